"""CPU and memory of a server together with its child processes (the frame pacer), read with
psutil: a child's CPU counts as the server's, and its memory as the pages it does not share."""

from __future__ import annotations

import contextlib

import psutil

__all__ = ["children_private_mb", "tree_cpu_seconds"]


def _children(process: psutil.Process) -> list[psutil.Process]:
    try:
        return process.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def tree_cpu_seconds(process: psutil.Process) -> float:
    """User + system seconds of the process, of its children that ended (an export worker) and
    of those alive now (the frame pacer), so the sum never falls when a child ends."""
    times = process.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in _children(process):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += sum(child.cpu_times()[:2])
    return total


def children_private_mb(process: psutil.Process) -> float:
    """The children's private pages (USS), in MB: what they add beside the server's RSS."""
    total = 0
    for child in _children(process):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += child.memory_full_info().uss
    return total / 1e6
