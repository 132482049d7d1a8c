"""Flash wear of the activity log: bytes written per file and syncs, counted exactly by strace.

Why strace: it counts the syscalls the shipped code makes (Python's own sqlite3 with its real
pragmas, the real writer thread and recorder), per file, with nothing re-implemented. An apsw
VFS would count a different SQLite build driven by a copy of our SQL; an LD_PRELOAD shim would
need a C file and fd bookkeeping for what strace's `-y` already gives. strace slows syscalls,
which does not matter here: the workloads run on a simulated clock, so only counts are measured.

Each run is a child process: the real Database and ActivityRecorder on a simulated monotonic
clock that the driver advances entry by entry (10 minutes pass in about a second). The writes
made by the final close (the shutdown flush and SQLite's closing checkpoint) are excluded: a
marker write separates them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._activity_data import entry_kwargs, info_entry_kwargs  # noqa: E402
from ledgrab.core.tls.pinning import trusting_context  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
CARD_BYTES = 16 * 2**30  # a 16 GiB card ...
PE_CYCLES = 1000  # ... of consumer TLC flash, ~1000 program/erase cycles per block
FLASH_PAGE = 16 * 1024  # a sync programs at least one whole flash page
MAX_BATCH = 500
POLICIES = [("naive", 0.0), ("shipped 1s", 1.0), ("shipped 5s", 5.0), ("shipped 30s", 30.0),
            ("shipped 60s", 60.0)]  # fmt: skip
WORKLOADS = ("idle", "steady 1/s", "bursts 100/s", "bursts 100/s i", "storm 10000/s")
# Run again under the 5 s policy with a forwarder whose cursor moves before every commit.
FORWARDED = ("steady 1/s", "bursts 100/s i")
TRACED = "write,pwrite64,writev,pwritev,pwritev2,fsync,fdatasync,sync_file_range,msync"
_LINE = re.compile(r"^\d+\s+(?:(\d+\.\d+)\s+)?(\w+)\((\d+)<([^>]*)>.*=\s+(-?\d+)")


def schedule(workload: str, quick: bool) -> tuple[float, list[float]]:
    """(simulated duration in s, times of the entries)."""
    if workload == "idle":
        return 600.0, []
    if workload == "steady 1/s":
        return 600.0, [float(i) for i in range(600)]
    if workload in ("bursts 100/s", "bursts 100/s i"):  # a 10 s burst at 100/s once a minute
        minutes = 3 if quick else 10
        return minutes * 60.0, [m * 60 + k / 100 for m in range(minutes) for k in range(1000)]
    if workload == "storm 10000/s":
        seconds = 1 if quick else 3
        return float(seconds), [k / 10_000 for k in range(seconds * 10_000)]
    raise ValueError(workload)


# -- child: one workload under one policy ---------------------------------------------------


class SimClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def child(workload: str, interval: float, path: str, marker: str, quick: bool) -> None:
    from ledgrab.core.activity_log.checkpoints import Checkpointer
    from ledgrab.core.activity_log.recorder import ActivityRecorder
    from ledgrab.core.activity_log.settings import ActivityLogSettings
    from ledgrab.core.activity_log.signing import DeviceKey
    from ledgrab.storage.database import Database
    from ledgrab.utils.system_clock import SystemClock, boot_id

    clock = SimClock()
    epoch = time.time()
    db = Database(path, clock=clock)
    db.open()
    settings = ActivityLogSettings(commit_interval_s=interval, max_batch=MAX_BATCH)
    wall = lambda: epoch + clock.now  # noqa: E731
    # As shipped: the device key signs a checkpoint every checkpoint_interval_s (60 s).
    checkpointer = Checkpointer(
        DeviceKey.load_or_create(Path(path).parent), clock=clock, wall_clock=wall
    )
    # As shipped: every entry carries its clock stamp (docs/clock.md); the environment switch
    # measures what the stamp costs.
    system_clock = None
    if not os.environ.get("LEDGRAB_BENCH_NO_CLOCK_STAMP"):
        system_clock = SystemClock(
            boot_id(), wall=wall, since_boot=lambda: 1000.0 + clock.now, synchronised=lambda: True
        )
    recorder = ActivityRecorder(
        db,
        None,
        settings,
        clock=clock,
        wall_clock=wall,
        checkpointer=checkpointer,
        system_clock=system_clock,
    )
    db.add_batch_source(recorder)
    forwarder = _BenchForwarder(db, recorder, clock) if os.environ.get(FORWARD_ENV) else None
    rng = random.Random(7)
    duration, times = schedule(workload, quick)
    # "... i": info/warning entries only, so no entry asks for an immediate commit.
    make = entry_kwargs if not workload.endswith(" i") else info_entry_kwargs
    payload = 0
    if os.environ.get("LEDGRAB_BENCH_DROP_ID_INDEX"):  # what the id index costs (see docs)
        db.write_blocking(lambda conn: conn.execute("DROP INDEX activity_log_id"))
    _checkpoint(path)  # the schema's own WAL frames are the set-up's, not the workload's
    with open(marker + "-start", "wb") as fh:  # creating the file and schema is not counted
        fh.write(b"start")

    def settle() -> None:
        # Let the writer commit whatever is due at the current simulated time, one at a time.
        while (due := recorder.due_at()) is not None and due <= clock.now:
            before = recorder.commits
            db.wake()
            while recorder.commits == before and recorder.state == "ok":
                time.sleep(0.00005)
            if forwarder is not None:  # worst case: every next commit carries a moved cursor
                forwarder.caught_up()

    def advance(to: float) -> None:
        while (due := recorder.due_at()) is not None and due <= to:
            clock.now = max(clock.now, due)
            settle()
        clock.now = to

    for t in times:
        advance(t)
        entry = recorder.record(**make(rng))
        assert entry is not None
        payload += _payload_bytes(entry)
        settle()
    advance(duration)
    # What the WAL holds reaches the main file at the next checkpoint anyway: count it now, so a
    # short run is not flattered by a checkpoint that had not happened yet.
    _checkpoint(path)
    with open(marker, "wb") as fh:  # everything after this write is shutdown, not counted
        fh.write(b"end")
    commits = recorder.commits
    if forwarder is not None:
        forwarder.stop()
    db.close()
    print(json.dumps({"entries": len(times), "payload": payload, "commits": commits,
                      "seconds": duration}))  # fmt: skip


FORWARD_ENV = "LEDGRAB_BENCH_FORWARDER"


class _BenchForwarder:
    """A real forwarder (syslog over UDP to a socket of this process) with its cursor store."""

    def __init__(self, db, recorder, clock) -> None:
        from ledgrab.config import ForwardingConfig
        from ledgrab.core.forwarding.config import ForwarderConfig, SyslogTarget
        from ledgrab.core.forwarding.cursors import CursorStore
        from ledgrab.core.forwarding.forwarder import Forwarder

        self.sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sink.bind(("127.0.0.1", 0))
        self.sink.setblocking(False)
        # The shipped interval between cursor writes, on the simulated clock.
        interval = ForwardingConfig().cursor_write_interval_s
        self.db, self.cursors = db, CursorStore({}, interval, clock)
        db.add_batch_source(self.cursors)
        target = SyslogTarget(host="127.0.0.1", port=self.sink.getsockname()[1])
        self.forwarder = Forwarder(
            ForwarderConfig(name="bench", target=target, batch_size=1000),
            0,
            db=db,
            recorder=recorder,
            timings=ForwardingConfig(poll_interval_s=0.001),
            device_id="bench",
            on_cursor=self.cursors.set,
        )
        self.forwarder.start()

    def caught_up(self) -> None:
        from ledgrab.storage.activity_log import ActivityLogRepository

        newest = self.db.read_blocking(ActivityLogRepository.seq_bounds)[1] or 0
        while (self.cursors.get("bench") or 0) < newest:
            self.forwarder.wake()
            time.sleep(0.0002)
            self._drain()

    def _drain(self) -> None:
        try:
            while self.sink.recv(65535):
                pass
        except BlockingIOError:
            pass

    def stop(self) -> None:
        self.forwarder.stop()
        self.sink.close()


def _checkpoint(path: str) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    conn.close()


def _payload_bytes(entry) -> int:
    """The stored values themselves: text fields in UTF-8, 8 bytes of time, the metadata JSON."""
    import msgspec

    texts = [entry.id, entry.category, entry.action, entry.severity, entry.actor, entry.message,
             entry.entity_type, entry.entity_id, entry.entity_name]  # fmt: skip
    return 8 + sum(len(t.encode()) for t in texts if t) + len(msgspec.json.encode(entry.metadata))


# -- parent: trace, count, tabulate ---------------------------------------------------------


def traced(argv: list[str], trace: Path, stdout=subprocess.PIPE, env=None) -> subprocess.Popen:
    return subprocess.Popen(
        ["strace", "-f", "--seccomp-bpf", "-qq", "-y", "-ttt", "-e", "signal=none",
         "-e", f"trace={TRACED}", "-o", str(trace), *argv],
        stdout=stdout, text=True, cwd=ROOT, env=env,
    )  # fmt: skip


def count(trace: Path, db_path: str, *, stop_at: str | None = None,
          window: tuple[float, float] | None = None) -> dict[str, int]:  # fmt: skip
    totals = {"db": 0, "wal": 0, "other": 0, "syncs": 0}
    for line in trace.read_text().splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        stamp, call, _fd, name, result = m.groups()
        if stop_at and name == stop_at + "-start":
            totals = dict.fromkeys(totals, 0)
            continue
        if stop_at and name == stop_at:
            break
        if window and stamp and not window[0] <= float(stamp) <= window[1]:
            continue
        if not name.startswith(db_path):
            continue
        if call in {"fsync", "fdatasync", "sync_file_range", "msync"}:
            totals["syncs"] += 1
        elif int(result) > 0:
            key = "wal" if name.endswith("-wal") else "db" if name == db_path else "other"
            totals[key] += int(result)
    return totals


def run_one(workload: str, interval: float, quick: bool, tmp: Path, forward: bool = False) -> dict:
    work = Path(tempfile.mkdtemp(dir=tmp))
    db_path, marker, trace = work / "ledgrab.db", work / "MARKER", work / "trace.txt"
    env = {**os.environ, FORWARD_ENV: "1"} if forward else None
    proc = traced([sys.executable, __file__, "--child", workload, str(interval), str(db_path),
                   str(marker)] + (["--quick"] if quick else []), trace, env=env)  # fmt: skip
    out, _ = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"child failed for {workload} / {interval}")
    result = json.loads(out.strip().splitlines()[-1])
    result.update(count(trace, str(db_path), stop_at=str(marker)))
    shutil.rmtree(work)
    return result


def idle_server(seconds: float, tmp: Path, forward: bool = False) -> dict:
    """The real `ledgrab serve`, left alone after it started: writes to the database files.
    With `forward`, a syslog forwarder (UDP to a socket here) is configured first."""
    work = Path(tempfile.mkdtemp(dir=tmp))
    trace = work / "trace.txt"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = work / "loopback.toml"  # mDNS on loopback only: never multicast on the LAN side
    # Discovery off as well: another program's mDNS device on loopback is real news, not idling.
    # HTTPS as on the device; its plain-HTTP redirect on a free port rather than 80.
    config.write_text(
        '[discovery]\nenabled = false\ninterfaces = ["127.0.0.1"]\n'
        "[server]\nhttp_redirect_port = 0\n"
    )
    proc = traced([sys.executable, "-m", "ledgrab", "serve", "--host", "127.0.0.1", "--port",
                   str(port), "--data-dir", str(work / "data"), "--config", str(config)], trace,
                  stdout=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                trust = trusting_context(work / "data" / "tls" / "cert.pem")
                url = f"https://127.0.0.1:{port}/health"
                urllib.request.urlopen(url, timeout=1, context=trust).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        sink = _configure_forwarder(port, work / "data") if forward else None
        time.sleep(6.0)  # startup's own commit (server.started, 5 s interval) lands first
        start = time.time()
        time.sleep(seconds)
        end = time.time()
    finally:
        # SIGTERM to the server itself (strace would only detach from it).
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        for pid in children:
            os.kill(int(pid), signal.SIGTERM)
        proc.wait(timeout=60)
        if forward and sink is not None:
            sink.close()
    totals = count(trace, str(work / "data" / "ledgrab.db"), window=(start, end))
    shutil.rmtree(work)
    return {"seconds": seconds, **totals}


def _configure_forwarder(port: int, data_dir: Path) -> socket.socket:
    """PUT one syslog forwarder (start: oldest) and wait until it delivered the log."""
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    key = (data_dir / "initial-api-key").read_text().strip()
    target = {"kind": "syslog", "host": "127.0.0.1", "port": sink.getsockname()[1]}
    body = json.dumps({"forwarders": [{"name": "bench", "target": target, "start": "oldest"}]})
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/activity/forwarders", data=body.encode(), method="PUT",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )  # fmt: skip
    urllib.request.urlopen(request, timeout=10).read()
    return sink


def retention_size(quick: bool, tmp: Path) -> dict:
    """Log size at max_entries and after 10x max_entries entries (checkpointed, so the main
    file holds everything)."""
    from ledgrab.core.activity_log.recorder import ActivityRecorder
    from ledgrab.core.activity_log.retention import RetentionEngine
    from ledgrab.core.activity_log.settings import ActivityLogSettings
    from ledgrab.storage.database import Database

    max_entries = 10_000
    path = Path(tempfile.mkdtemp(dir=tmp)) / "ledgrab.db"
    db = Database(path)
    db.open()
    settings = ActivityLogSettings(commit_interval_s=300, max_batch=MAX_BATCH,
                                   max_entries=max_entries)  # fmt: skip
    recorder = ActivityRecorder(db, None, settings)
    retention = RetentionEngine(db, recorder, settings)
    db.add_batch_source(recorder)
    db.add_batch_source(retention)
    rng = random.Random(3)
    sizes = {}
    for n in range(1, 10 * max_entries + 1):
        recorder.record(**entry_kwargs(rng))
        if n % MAX_BATCH == 0:
            recorder.flush_blocking()
        if n in (max_entries, 10 * max_entries):
            recorder.flush_blocking()
            while retention.due_at() is not None:
                time.sleep(0.01)
            conn = sqlite3.connect(path)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            rows = conn.execute("SELECT count(*) FROM activity_log").fetchone()[0]
            conn.close()
            sizes[n] = (os.path.getsize(path), rows)
    db.remove_batch_source(retention)
    db.close()
    return {"max_entries": max_entries, "sizes": sizes}


def lifetime_years(bytes_per_hour: float, syncs_per_hour: float) -> str:
    programmed = bytes_per_hour + syncs_per_hour * FLASH_PAGE
    if programmed <= 0:
        return "unlimited"
    years = CARD_BYTES * PE_CYCLES / programmed / (24 * 365)
    return f"{years:,.1f}" if years < 1e6 else ">1,000,000"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter bursts and storm")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        workload, interval, path, marker = args.child
        child(workload, float(interval), path, marker, args.quick)
        return
    if shutil.which("strace") is None:
        raise SystemExit("flash_writes needs strace (apt-get install strace)")
    tmp = Path(tempfile.mkdtemp(prefix="ledgrab-flash-"))
    results = {}
    try:
        for workload in WORKLOADS:
            for name, interval in POLICIES:
                results[(workload, name)] = run_one(workload, interval, args.quick, tmp)
        for workload in FORWARDED:
            results[(workload, "5s + fwd")] = run_one(workload, 5.0, args.quick, tmp, True)
        server = idle_server(4.0 if args.quick else 20.0, tmp)
        forwarded = idle_server(4.0 if args.quick else 20.0, tmp, forward=True)
        sizes = retention_size(args.quick, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print_tables(results, server, sizes, forwarded)
    plot(results)


def print_tables(results: dict, server: dict, sizes: dict, forwarded: dict) -> None:
    head = (f"{'workload':<14} {'policy':<12} {'entries':>7} {'payload/e':>9} {'bytes/e':>9} "
            f"{'db B':>10} {'wal B':>10} {'syncs/e':>8} {'amplif.':>8} {'commits/h':>10} "
            f"{'bound/h':>9} {'syncs/h':>9} {'card years':>11}")  # fmt: skip
    print(f"Activity log flash writes (strace; max_batch={MAX_BATCH}; card: "
          f"{CARD_BYTES // 2**30} GiB x {PE_CYCLES} P/E cycles, a sync programs >= "
          f"{FLASH_PAGE // 1024} KiB)")  # fmt: skip
    print(head)
    print("-" * len(head))
    for (workload, policy), r in results.items():
        n, hours = r["entries"], r["seconds"] / 3600
        written = r["db"] + r["wal"] + r["other"]

        def per(v: float, n: int = n) -> str:
            return f"{v / n:,.1f}" if n else "-"

        interval = dict(POLICIES).get(policy, 5.0)
        cap = 3600 / interval if interval else float("inf")
        bound = cap + n / hours / MAX_BATCH + 3600
        print(f"{workload:<14} {policy:<12} {n:>7} {per(r['payload']):>9} {per(written):>9} "
              f"{r['db']:>10,} {r['wal']:>10,} {per(r['syncs']):>8} "
              f"{(written / r['payload']) if r['payload'] else 0:>8.2f} "
              f"{r['commits'] / hours:>10,.0f} {bound:>9,.0f} {r['syncs'] / hours:>9,.0f} "
              f"{lifetime_years(written / hours, r['syncs'] / hours):>11}")  # fmt: skip
    print()
    print(f"Real `ledgrab serve`, idle for {server['seconds']:.0f} s after start: "
          f"{server['db']} B to the db, {server['wal']} B to the WAL, {server['other']} B to "
          f"other db files, {server['syncs']} syncs")  # fmt: skip
    print(f"The same with a syslog forwarder configured, idle for {forwarded['seconds']:.0f} s: "
          f"{forwarded['db']} B to the db, {forwarded['wal']} B to the WAL, "
          f"{forwarded['other']} B to other db files, {forwarded['syncs']} syncs")  # fmt: skip
    at_max, at_10x = (sizes["sizes"][k] for k in sorted(sizes["sizes"]))
    print(f"Retention at max_entries={sizes['max_entries']:,}: file {at_max[0]:,} B "
          f"({at_max[1]:,} rows); after 10x entries: {at_10x[0]:,} B ({at_10x[1]:,} rows); "
          f"ratio {at_10x[0] / at_max[0]:.2f} (target <= 1.25)")  # fmt: skip


def plot(results: dict) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib missing: no plot)")
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for workload in WORKLOADS[1:]:
        xs, per_entry, per_hour = [], [], []
        for policy, interval in POLICIES:
            r = results[(workload, policy)]
            xs.append(interval)
            per_entry.append((r["db"] + r["wal"] + r["other"]) / r["entries"])
            per_hour.append(r["syncs"] / (r["seconds"] / 3600))
        left.plot(xs, per_entry, marker="o", label=workload)
        right.plot(xs, per_hour, marker="o", label=workload)
    for ax, title in ((left, "bytes written per entry"), (right, "syncs per hour")):
        ax.set_xlabel("commit_interval_s (0 = naive: one commit per entry)")
        ax.set_yscale("log")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    out = RESULTS / "flash_writes.png"
    fig.savefig(out, dpi=110)
    print(f"plot: {out}")


if __name__ == "__main__":
    main()
