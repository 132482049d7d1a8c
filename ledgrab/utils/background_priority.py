"""The lowest CPU priority for heavy readers (text search, exports, backup copies), so that a frame
loop that wakes up gets the CPU at once instead of after the reader's time slice."""

from __future__ import annotations

import contextlib
import os
import threading

__all__ = ["LOWEST_NICENESS", "lower_this_thread"]

LOWEST_NICENESS = 19


def lower_this_thread() -> None:
    """Give the calling thread alone (Linux counts niceness per thread) the lowest priority; a
    no-op where that cannot be done. One way only: without privilege it cannot be raised again,
    so it is for threads and processes that do nothing else."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LOWEST_NICENESS)
