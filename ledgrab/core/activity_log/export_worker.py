"""The activity export written by a child process, so that reading and encoding a large log
never shares the server's GIL with the frame loops.

`export_in_worker(db, filters, fmt)` streams what `python -m ledgrab.core.activity_log.
export_worker DB FORMAT FILTERS_JSON` writes to its standard output: the same bytes the export
produces in-process (`offline_export.export_to`). The child takes the lowest CPU priority (frames
first) and reads the file read-only; the database's read gate is held until it exits, so a
restore waits for a running export as it does for a backup. At most MAX_WORKERS run at once;
further exports wait their turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import weakref
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec

from ledgrab.core.activity_log.offline_export import export_to
from ledgrab.storage.activity_log import ActivityLogFilters
from ledgrab.utils.background_priority import lower_this_thread

__all__ = ["MAX_WORKERS", "ExportWorkerError", "export_in_worker"]

MAX_WORKERS = 2
READ_BYTES = 64 * 1024
_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


class ExportWorkerError(RuntimeError):
    """The child failed; the message is the last line it wrote to its standard error."""


def _turn() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    turn = _turns.get(loop)
    if turn is None:
        turn = _turns[loop] = asyncio.Semaphore(MAX_WORKERS)
    return turn


async def export_in_worker(db: Any, filters: ActivityLogFilters, fmt: str) -> AsyncIterator[bytes]:
    """The export body, newest first, in chunks of up to READ_BYTES."""
    async with _turn(), db.file_held() as path:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            __name__,
            str(path),
            fmt,
            msgspec.json.encode(filters).decode(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            assert proc.stdout is not None and proc.stderr is not None
            while chunk := await proc.stdout.read(READ_BYTES):
                yield chunk
            problem = await proc.stderr.read()
            if await proc.wait() != 0:
                lines = problem.decode(errors="replace").strip().splitlines() or ["no output"]
                raise ExportWorkerError(f"the export stopped: {lines[-1]}")
        finally:
            if proc.returncode is None:  # the client went away: stop reading for it
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()


def main(argv: list[str]) -> int:
    database, fmt, raw = argv
    lower_this_thread()  # the child's only thread: on a busy core the frame loop wins the CPU
    filters = msgspec.json.decode(raw, type=ActivityLogFilters)
    export_to(Path(database), filters, fmt, sys.stdout.buffer)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
