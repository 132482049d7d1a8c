"""Power cuts at points spread over a busy stretch of a real `ledgrab serve` (tests/support/
busy_minute.py) under the power-cut shim: after each, with all, none or a random subset of
what was not synced rolled back, the service starts, the files are whole, the log is an
unbroken run reaching to the commit window, every acknowledged write is there and the chain
verifies. docs/power-cuts.md describes the harness and the last full run."""

from __future__ import annotations

import contextlib
import random

import pytest

from tests.support.after_the_cut import (
    check_files,
    check_log,
    check_no_temporaries,
    check_service,
    verify_chain,
)
from tests.support.busy_minute import BusyMinute
from tests.support.power_cut import PowerCut, build_shim
from tests.support.process_server import ServeProcess

MODES = ("random", "all", "random", "none")
FULL_STORM = 1200  # entries announced before the backup: past max_entries (1000), so it prunes
SHORT_STORM = 60


class _CutServe(ServeProcess):
    """A server that may die at any point of its start: `start()` returns either way."""

    def _healthy(self) -> bool:
        return self.proc.poll() is not None or super()._healthy()

    def start(self) -> _CutServe:
        with contextlib.suppress(RuntimeError):  # it died before it printed where it serves
            super().start()
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None and bool(self.base_url)


@pytest.fixture(scope="module")
def shim(tmp_path_factory):
    return build_shim(tmp_path_factory.mktemp("shim"))


def _busy_run(shim, tmp_path, kill_after, storm):
    """Run the stretch under the shim until the cut (or its end); return the cut and the
    scenario's record."""
    data, work = tmp_path / "data", tmp_path / "cut"
    data.mkdir(parents=True)  # as systemd's StateDirectory= makes it, before LedGrab starts
    cut = PowerCut(shim, data, work, kill_after)
    server = _CutServe(data, env=cut.env()).start()
    busy = None
    key_file = data / "initial-api-key"
    try:
        if server.alive and key_file.exists():
            busy = BusyMinute(server, data, key_file.read_text().strip(), storm)
            busy.run(work)
    finally:
        server.kill()
    return cut, busy


def one_cut(
    shim, tmp_path, kill_after: int, mode: str, seed: int, storm: int = FULL_STORM
) -> tuple[list[str], str]:
    """One power cut; the problems found (empty: all held) and what the cut took."""
    cut, busy = _busy_run(shim, tmp_path, kill_after, storm)
    loss = cut.lose(mode, random.Random(seed))
    data = tmp_path / "data"
    problems = check_files(data, tmp_path)
    if busy is not None:
        problems += check_log(tmp_path, busy.acked, busy.observed, loss.killed_at_us or 0)
    try:
        server = ServeProcess(data).start()
    except (RuntimeError, AssertionError) as exc:
        return [*problems, f"the service does not start: {exc}"], loss.summary()
    try:
        problems += check_no_temporaries(data)
        if busy is not None:
            problems += check_service(server, data, busy.acked)
    finally:
        server.terminate()
    problems += verify_chain(data)
    return problems, loss.summary()


def _operations(shim, tmp_path, storm: int) -> int:
    """How many journalled operations the whole stretch does (cut points are spread over it)."""
    cut, busy = _busy_run(shim, tmp_path, None, storm)
    assert busy is not None and busy.acked.restore == "done", "the stretch ran to its end"
    return cut.operations()


def _cuts(operations: int, count: int) -> list[tuple[int, str, int]]:
    return [
        (max(1, int((n + 0.5) * operations / count)), MODES[n % len(MODES)], n)
        for n in range(count)
    ]


@pytest.mark.timeout(300)  # three runs of a real server; slow only on a loaded machine
def test_two_power_cuts_in_a_short_stretch_lose_nothing_acknowledged(shim, tmp_path):
    """The default suite's sample: a shorter storm, a cut in its first and in its second half."""
    operations = _operations(shim, tmp_path / "calibrate", SHORT_STORM)
    for n, (kill_after, mode, seed) in enumerate(_cuts(operations, 2)):
        problems, loss = one_cut(shim, tmp_path / f"cut-{n}", kill_after, mode, seed, SHORT_STORM)
        assert problems == [], f"cut at operation {kill_after}/{operations} ({loss})"


@pytest.fixture(scope="module")
def full_operations(shim, tmp_path_factory):
    return _operations(shim, tmp_path_factory.mktemp("calibrate"), FULL_STORM)


@pytest.mark.slow
@pytest.mark.parametrize("n", range(100))
def test_a_hundred_power_cuts_lose_nothing_acknowledged(shim, full_operations, tmp_path, n):
    kill_after, mode, seed = _cuts(full_operations, 100)[n]
    problems, loss = one_cut(shim, tmp_path, kill_after, mode, seed)
    print(f"cut {n:3d} at op {kill_after:5d}/{full_operations} {loss}: {problems or 'ok'}")
    assert problems == [], f"cut at operation {kill_after}/{full_operations} ({loss})"
