"""The frame thread runs under SCHED_FIFO when the process may (root with CAP_SYS_NICE here; the
unit grants it with LimitRTPRIO=1, which this machine cannot raise without CAP_SYS_RESOURCE),
nothing else in the process is raised with it, and a refusal keeps the normal policy, says how
to grant it, and the frames go on."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.support.live_server import wait_for
from tests.support.process_server import ServeProcess

CAP_SYS_NICE_BIT = 23
# As ledgrab.service starts it (CAP_SYS_NICE is not in its bounding set), with RLIMIT_RTPRIO at
# 0: refused. prlimit and setpriv each exec the next command.
REFUSED = ["prlimit", "--rtprio=0", "setpriv", "--inh-caps=-sys_nice", "--bounding-set=-sys_nice"]
# The policy the server inherits from this process when nothing raises it: SCHED_OTHER, or
# SCHED_IDLE when the suite runs under `chrt -i 0` as on the shared development machine.
ORDINARY = os.sched_getscheduler(0)


def _threads(pid: int) -> dict[int, tuple[str, int, int]]:
    """Every thread of `pid`: tid -> (kernel name, policy, real-time priority)."""
    threads = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        tid = int(task.name)
        try:
            name = (task / "comm").read_text().strip()
            threads[tid] = (name, os.sched_getscheduler(tid), os.sched_getparam(tid).sched_priority)
        except (FileNotFoundError, ProcessLookupError):  # a worker thread that just ended
            continue
    return threads


def _holds_cap_sys_nice(pid: int) -> bool:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> CAP_SYS_NICE_BIT & 1)
    raise AssertionError("no CapEff line")


pytestmark = pytest.mark.skipif(
    os.geteuid() != 0
    or not _holds_cap_sys_nice(os.getpid())
    or ORDINARY in (os.SCHED_FIFO, os.SCHED_RR),
    reason="needs root with CAP_SYS_NICE (to grant the priority, and to drop it with setpriv),"
    " run at a policy that is not already real-time",
)


def _frames_sent(server: ServeProcess) -> int:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    with httpx.Client(base_url=server.base_url, verify=server.verify, headers=headers) as http:
        (target,) = http.get("/api/v1/targets").raise_for_status().json()
        return http.get(f"/api/v1/targets/{target['id']}/state").json()["frames_sent"]


def _serve(tmp_path: Path, prefix: list[str], config: str = "") -> ServeProcess:
    env = {}
    if config:
        (tmp_path / "ledgrab.toml").write_text(config)
        env["LEDGRAB_CONFIG"] = str(tmp_path / "ledgrab.toml")
    # The demo target on a virtual strip starts with the server: the frame thread runs.
    return ServeProcess(tmp_path / "data", env=env, prefix=prefix).start()


def _frame_thread(server: ServeProcess) -> tuple[str, int, int]:
    assert server.proc
    found = wait_for(
        lambda: [t for t in _threads(server.proc.pid).values() if t[0] == "ledgrab-frames"],
        what="the frame thread",
    )
    (thread,) = found
    return thread


def test_the_frame_thread_takes_real_time_priority_when_allowed_and_only_it(tmp_path):
    server = _serve(tmp_path, [])
    try:
        assert server.proc
        assert _frame_thread(server) == ("ledgrab-frames", os.SCHED_FIFO, 1)
        others = {
            tid: info for tid, info in _threads(server.proc.pid).items()
            if info[0] != "ledgrab-frames"
        }  # fmt: skip
        # The server's loop, the database and the other workers stay ordinary (the frame
        # loop's own write workers, started from it, would inherit it: none for a virtual strip).
        assert others and all(policy == ORDINARY for _, policy, _ in others.values()), others
        assert not [line for line in server.lines if "normal priority" in line]
        assert [line for line in server.lines if "runs under SCHED_FIFO at priority 1" in line]
        sent = _frames_sent(server)
        wait_for(lambda: _frames_sent(server) > sent + 10, what="frames")
    finally:
        server.terminate()


def test_a_refused_priority_leaves_the_frame_thread_ordinary_says_how_and_frames_go_on(tmp_path):
    # Above the shipped unit's limit, so the warning must name the limit this priority needs.
    server = _serve(tmp_path, REFUSED, config="[engine]\nframe_priority = 3\n")
    try:
        assert server.proc and not _holds_cap_sys_nice(server.proc.pid)
        assert _frame_thread(server)[1:] == (ORDINARY, 0)
        (warning,) = [line for line in server.lines if "normal priority" in line]
        assert "priority 3 was refused" in warning and "LimitRTPRIO=3" in warning
        sent = _frames_sent(server)
        wait_for(lambda: _frames_sent(server) > sent + 10, what="frames")
    finally:
        server.terminate()


def test_frame_priority_zero_asks_for_nothing(tmp_path):
    server = _serve(tmp_path, [], config="[engine]\nframe_priority = 0\n")
    try:
        assert _frame_thread(server)[1:] == (ORDINARY, 0)
        assert not [line for line in server.lines if "normal priority" in line]
    finally:
        server.terminate()
