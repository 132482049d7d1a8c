"""The clock's sync flag is a system call per activity entry unless remembered: it is read again
once a second, and at once when the wall clock steps (a step is what unsynchronises it)."""

from __future__ import annotations

from ledgrab.utils.system_clock import KernelSyncFlag, SystemClock, clock_synchronised


class _Kernel:
    def __init__(self) -> None:
        self.synced: bool | None = False
        self.reads = 0
        self.wall = 1_000_000.0
        self.mono = 50.0

    def read(self) -> bool | None:
        self.reads += 1
        return self.synced


def _flag(kernel: _Kernel) -> KernelSyncFlag:
    return KernelSyncFlag(kernel.read, wall=lambda: kernel.wall, monotonic=lambda: kernel.mono)


def test_the_flag_is_read_once_a_second():
    kernel = _Kernel()
    flag = _flag(kernel)
    assert [flag() for _ in range(100)] == [False] * 100
    assert kernel.reads == 1
    kernel.synced = True
    kernel.mono += 0.5
    kernel.wall += 0.5
    assert flag() is False and kernel.reads == 1  # within the second: remembered
    kernel.mono += 0.6
    kernel.wall += 0.6
    assert flag() is True and kernel.reads == 2


def test_a_clock_step_reads_the_flag_again_at_once():
    kernel = _Kernel()
    flag = _flag(kernel)
    kernel.synced = True
    assert flag() is True
    kernel.synced = False  # settimeofday sets STA_UNSYNC
    kernel.wall -= 3600.0  # the step, back an hour
    kernel.mono += 0.001
    assert flag() is False and kernel.reads == 2


def test_a_slewed_clock_is_not_a_step():
    kernel = _Kernel()
    flag = _flag(kernel)
    flag()
    kernel.mono += 0.9
    kernel.wall += 0.9 + 0.0005  # NTP slews at most 500 ppm
    flag()
    assert kernel.reads == 1


def test_the_shipped_clock_remembers_the_kernels_answer():
    clock = SystemClock("0123")
    assert isinstance(clock.synchronised, KernelSyncFlag)
    assert clock.synchronised() == clock_synchronised()
    assert clock.stamp()[:2] == [clock_synchronised(), "0123"]
