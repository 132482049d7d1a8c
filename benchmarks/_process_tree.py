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
    """User + system seconds of the process and of the children alive now."""
    total = sum(process.cpu_times()[:2])
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
