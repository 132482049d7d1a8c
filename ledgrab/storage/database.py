"""SQLite in WAL mode: one writer thread owns every write and batching; reads use own conns."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import msgspec

from ledgrab.storage.data_migrations import MIGRATIONS, Migration, migrate, refuse_newer
from ledgrab.storage.faults import StorageFault, storage_fault
from ledgrab.storage.read_gate import ReadGate
from ledgrab.utils.background_priority import lower_this_thread
from ledgrab.utils.files import sync_directory
from ledgrab.utils.private_files import make_private

__all__ = [
    "BatchSource",
    "Database",
    "DatabaseBusyError",
    "DatabaseClosedError",
    "set_file_format",
]

T = TypeVar("T")
log = logging.getLogger(__name__)


def reader_count() -> int:
    """Read connections (and threads) for this process: two, or one when it may run on one CPU
    only. Two readers on one CPU take turns in time slices of several milliseconds, and when the
    one that waits for its turn holds the interpreter lock (finishing a result in Python), a frame
    due meanwhile waits with it: on one core, text searches held frames back by 0.9-2.9 ms (p99)
    with two readers and by 0.26-0.30 ms with one, at the same searches per second."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return 2 if cpus > 1 else 1


def set_file_format(conn: sqlite3.Connection) -> None:
    """Settings fixed when the first table is created; every LedGrab file starts with these."""
    # Lets retention hand freed pages back to the file system.
    conn.execute("PRAGMA auto_vacuum = INCREMENTAL")


class DatabaseClosedError(RuntimeError):
    """The database is closed (or closing) and takes no new work."""


class DatabaseBusyError(RuntimeError):
    """The writer's task queue is full; the caller should retry later."""


class BatchSource(Protocol):
    """Work that rides on the writer's commits instead of committing alone (the activity log)."""

    def due_at(self) -> float | None:
        """Monotonic time by which pending work must be committed; None when nothing waits."""

    def write_pending(self, conn: sqlite3.Connection) -> Any:
        """Write what is pending into the open transaction; return a token, or None if nothing."""

    def committed(self, token: Any) -> None:
        """The transaction holding `token` is durable."""

    def failed(self, token: Any, error: BaseException) -> None:
        """The transaction holding `token` was rolled back; the work must be kept for a retry."""


class _Task:
    __slots__ = ("args", "fn", "future")

    def __init__(self, fn: Callable[..., Any], args: tuple, future: concurrent.futures.Future):
        self.fn, self.args, self.future = fn, args, future


class _SwapTask(_Task):
    """Replace the file itself (a restore): runs on the writer outside any transaction."""


class Database:
    """The LedGrab database file, its writer thread and its read connections."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        migrations: Sequence[Migration] = MIGRATIONS,
        max_queued_writes: int = 1000,
        read_connections: int | None = None,
        close_timeout_s: float = 10.0,
        wal_limit_bytes: int = 4 * 1024 * 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self._migrations = migrations
        self._max_queued = max_queued_writes
        self._close_timeout = close_timeout_s
        self._wal_limit = wal_limit_bytes
        # Batch deadlines are compared with this clock (benchmarks drive it to simulate hours).
        self._clock = clock
        self._tasks: deque[_Task] = deque()
        self._cond = threading.Condition()
        self._wake = False
        self._stopping = False
        self._closed = False
        self._sources: list[BatchSource] = []
        self._writer: threading.Thread | None = None
        self._write_conn: sqlite3.Connection | None = None
        # Readers run the heavy work (text search, backup copies) at the lowest CPU priority:
        # most of it is SQLite's C code with the GIL released, and on a busy core it must not
        # hold back a frame loop that wakes up (benchmarks/interference.py).
        self._readers = concurrent.futures.ThreadPoolExecutor(
            max_workers=read_connections or reader_count(),
            thread_name_prefix="ledgrab-db-read",
            initializer=lower_this_thread,
        )
        self._read_local = threading.local()
        self._read_conns: list[sqlite3.Connection] = []
        self._read_conns_lock = threading.Lock()
        self._read_gate = ReadGate()  # reads and backups vs. a file swap
        # The storage fault of the current episode (a full card, …): set by the first write that
        # fails for it, cleared by the next commit that writes something.
        self.fault: StorageFault | None = None
        self.last_error: str | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def open(self) -> list[int]:
        """Create or open the file, apply pragmas and migrations, start the writer; return the
        migration versions applied. A newer LedGrab's file raises SchemaTooNewError untouched."""
        refuse_newer(self.path, self._migrations)  # before the chmod and the WAL switch below
        self.path.parent.mkdir(parents=True, exist_ok=True)
        make_private(self.path)  # SQLite gives the -wal and -shm this file's mode
        self._write_conn, applied = self._connect_writer()
        self._writer = threading.Thread(target=self._run, name="ledgrab-db-writer", daemon=True)
        self._writer.start()
        return applied

    def _connect_writer(self) -> tuple[sqlite3.Connection, list[int]]:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            self._configure_writer(conn)
            applied = migrate(conn, self._migrations)
        except BaseException:
            conn.close()
            raise
        return conn, applied

    def _configure_writer(self, conn: sqlite3.Connection) -> None:
        set_file_format(conn)  # must precede the first table
        # WAL appends commits sequentially and lets readers run beside the writer.
        conn.execute("PRAGMA journal_mode = WAL")
        # FULL: every commit syncs the WAL once, so an acknowledged write survives a power cut.
        # Batching, not a weaker sync mode, is what keeps the number of commits small.
        conn.execute("PRAGMA synchronous = FULL")
        # After a checkpoint the WAL is truncated back to this size, so it cannot grow unbounded.
        conn.execute(f"PRAGMA journal_size_limit = {int(self._wal_limit)}")
        # Debian builds SQLite with secure_delete on: every freed page is overwritten with zeros,
        # so clearing a 1,000,000-entry log wrote 507 MB (WAL and checkpoint). FAST zeroes only
        # inside pages that are written anyway (0.6 MB for that clear). On a card that remaps
        # writes, an overwrite never erased the old cells anyway; freed pages are reused.
        conn.execute("PRAGMA secure_delete = FAST")
        # Sorts and temporary indexes stay in RAM instead of becoming flash writes.
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("PRAGMA foreign_keys = ON")
        # Another process (the CLI, a backup) may hold the lock for a moment.
        conn.execute("PRAGMA busy_timeout = 5000")

    def close(self) -> None:
        """Drain queued writes and pending batches, stop the writer, close conns; idempotent."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._stopping = True
            self._cond.notify_all()
        if self._writer is not None:
            self._writer.join(self._close_timeout)
            if self._writer.is_alive():
                log.error("database writer did not stop within %.0f s", self._close_timeout)
        self._readers.shutdown(wait=True)
        with self._read_conns_lock:
            for conn in self._read_conns:
                conn.close()
            self._read_conns.clear()
        if self._write_conn is not None and (self._writer is None or not self._writer.is_alive()):
            self._write_conn.close()
            self._write_conn = None

    @property
    def is_open(self) -> bool:
        return self._writer is not None and self._writer.is_alive() and not self._stopping

    @property
    def queued_writes(self) -> int:
        return len(self._tasks)

    # -- writes ------------------------------------------------------------------------------

    def submit(self, fn: Callable[..., T], *args: Any) -> concurrent.futures.Future[T]:
        """Queue `fn(conn, *args)` to run in its own transaction on the writer thread."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        with self._cond:
            if self._stopping or self._writer is None:
                raise DatabaseClosedError("the database is closed")
            if len(self._tasks) >= self._max_queued:
                raise DatabaseBusyError(f"{len(self._tasks)} writes are already queued")
            self._tasks.append(_Task(fn, args, future))
            self._cond.notify()
        return future

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(conn, *args)` on the writer; return once its commit is durable."""
        return await asyncio.wrap_future(self.submit(fn, *args))

    def write_blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """`write` for threads without an event loop (the CLI)."""
        return self.submit(fn, *args).result()

    def add_batch_source(self, source: BatchSource) -> None:
        with self._cond:
            self._sources.append(source)

    def remove_batch_source(self, source: BatchSource) -> None:
        with self._cond:
            if source in self._sources:
                self._sources.remove(source)

    def wake(self) -> None:
        """Make the writer look at its batch sources' deadlines again; never blocks."""
        with self._cond:
            self._wake = True
            self._cond.notify()

    def _next_task(self) -> _Task | None:
        """Wait for a task, a wake-up or the earliest batch deadline; None means check batches."""
        with self._cond:
            while not self._tasks and not self._wake and not self._stopping:
                deadlines = [d for d in (s.due_at() for s in self._sources) if d is not None]
                if deadlines:
                    remaining = min(deadlines) - self._clock()
                    if remaining <= 0:
                        return None
                    self._cond.wait(remaining)
                else:
                    self._cond.wait()  # idle: no timer, no wake-ups, no writes
            self._wake = False
            return self._tasks.popleft() if self._tasks else None

    def _run(self) -> None:
        conn = self._write_conn
        assert conn is not None
        while True:
            task = self._next_task()
            if isinstance(task, _SwapTask):
                try:
                    conn = self._write_conn = self._swap(conn, task)
                except BaseException as exc:  # neither file could be reopened
                    self._abandon(task, exc)
                    return
                continue
            if task is not None:
                self._run_task(conn, task)
                continue
            if self._stopping and not self._tasks:
                self._commit_batches(conn, only_due=False)
                return
            self._commit_batches(conn, only_due=True)

    def _run_task(self, conn: sqlite3.Connection, task: _Task) -> None:
        if not task.future.set_running_or_notify_cancel():
            return
        tokens: list[tuple[BatchSource, Any]] = []
        changes = conn.total_changes
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = task.fn(conn, *task.args)
                # A commit that happens anyway carries whatever batches are pending.
                tokens = self._write_sources(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except BaseException as exc:
            self._note_failure(exc)
            for source, token in tokens:
                source.failed(token, exc)
            task.future.set_exception(exc)
            return
        if conn.total_changes != changes:
            self._writes_succeed()
        for source, token in tokens:
            source.committed(token)
        task.future.set_result(result)

    def _write_sources(self, conn: sqlite3.Connection) -> list[tuple[BatchSource, Any]]:
        """Write each source's pending work under a savepoint, so a failing batch cannot take the
        caller's own write down with it."""
        tokens = []
        for source in list(self._sources):
            conn.execute("SAVEPOINT batch")
            try:
                token = source.write_pending(conn)
                conn.execute("RELEASE batch")
            except Exception as exc:
                conn.execute("ROLLBACK TO batch")
                conn.execute("RELEASE batch")
                self._note_failure(exc)
                continue
            if token is not None:
                tokens.append((source, token))
        return tokens

    def _commit_batches(self, conn: sqlite3.Connection, *, only_due: bool) -> None:
        now = self._clock()
        due = [s.due_at() for s in self._sources]
        if not any(d is not None and (not only_due or d <= now) for d in due):
            return
        tokens: list[tuple[BatchSource, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            tokens = self._write_sources(conn)
            conn.execute("COMMIT" if tokens else "ROLLBACK")
            if tokens:
                self._writes_succeed()
        except Exception as exc:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            self._note_failure(exc)
            for source, token in tokens:
                source.failed(token, exc)
            return
        for source, token in tokens:
            source.committed(token)

    def _note_failure(self, exc: BaseException) -> None:
        """A write failed: a storage fault opens (or continues) an episode; any other error is
        the caller's (a refused key, a constraint) and says nothing about the database."""
        fault = storage_fault(exc, self.path)
        if fault is not None:
            self.note_fault(fault)

    def note_fault(self, fault: StorageFault) -> None:
        """Record a storage fault met by a write; logged once per episode, not per failure."""
        if self.fault is None or self.fault.kind != fault.kind:
            log.warning(
                "database writes fail: %s; nothing is changed until a write succeeds again",
                fault.summary,
            )
        self.fault = fault
        self.last_error = fault.summary

    def _writes_succeed(self) -> None:
        if self.fault is not None:
            log.warning("database writes succeed again (after: %s)", self.fault.summary)
        self.fault = None
        self.last_error = None

    # -- replacing the file (restore) --------------------------------------------------------

    def submit_swap(
        self, replace: Callable[[Path], Callable[[], None] | None]
    ) -> concurrent.futures.Future[list[int]]:
        """Queue a file swap: writes queued before it land in the old file, later ones in the new.

        On the writer thread, once pending batches are committed and no connection to the file
        is open (a renamed-but-open SQLite file would pair with the wrong -wal), `replace(path)`
        changes the file and may return an undo. The new file is opened and migrated (the
        result: versions applied). If that fails, the undo runs, the old file is reopened and
        the error is raised. The Database object, its batch sources and its holders stay valid.
        """
        future: concurrent.futures.Future[list[int]] = concurrent.futures.Future()
        with self._cond:
            if self._stopping or self._writer is None:
                raise DatabaseClosedError("the database is closed")
            self._tasks.append(_SwapTask(replace, (), future))
            self._cond.notify()
        return future

    async def swap_file(self, replace: Callable[[Path], Callable[[], None] | None]) -> list[int]:
        return await asyncio.wrap_future(self.submit_swap(replace))

    def _swap(self, conn: sqlite3.Connection, task: _Task) -> sqlite3.Connection:
        if not task.future.set_running_or_notify_cancel():
            return conn
        self._commit_batches(conn, only_due=False)
        self._pause_reads()
        try:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()  # the last connection: the WAL is folded into the file and removed
            try:
                undo = task.fn(self.path)
            except BaseException as exc:
                task.future.set_exception(exc)
                return self._connect_writer()[0]
            try:
                new_conn, applied = self._connect_writer()
            except BaseException as exc:
                if undo is not None:
                    undo()
                task.future.set_exception(exc)
                return self._connect_writer()[0]
            task.future.set_result(applied)
            return new_conn
        finally:
            self._read_gate.resume()

    def _abandon(self, task: _Task, exc: BaseException) -> None:
        """The writer cannot go on: fail the swap and everything queued instead of hanging."""
        log.critical("database file could not be reopened after a swap: %s", exc)
        self.last_error = f"{type(exc).__name__}: {exc}"
        self._write_conn = None
        with self._cond:
            self._stopping = True
            queued = list(self._tasks)
            self._tasks.clear()
        for pending in (task, *queued):
            if not pending.future.done():
                pending.future.set_exception(DatabaseClosedError(f"the database is lost: {exc}"))

    def _pause_reads(self) -> None:
        self._read_gate.pause()
        with self._read_conns_lock:
            for conn in self._read_conns:
                conn.close()
            self._read_conns.clear()

    # -- reads -------------------------------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._read_local, "conn", None)
        if conn is None or self._read_local.generation != self._read_gate.generation:
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 5000")
            conn.execute("PRAGMA temp_store = MEMORY")
            self._read_local.conn = conn
            self._read_local.generation = self._read_gate.generation
            with self._read_conns_lock:
                self._read_conns.append(conn)
        return conn

    def _read_call(self, fn: Callable[..., T], args: tuple) -> T:
        with self._read_gate.reading():
            return fn(self._reader(), *args)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(conn, *args)` on a read-only connection in a reader thread."""
        if self._closed:
            raise DatabaseClosedError("the database is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._read_call, fn, args)

    def read_blocking(self, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise DatabaseClosedError("the database is closed")
        return self._readers.submit(self._read_call, fn, args).result()

    # -- settings ----------------------------------------------------------------------------

    @staticmethod
    def _select_setting(conn: sqlite3.Connection, key: str) -> bytes | None:
        row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0].encode()

    @staticmethod
    def put_setting(conn: sqlite3.Connection, key: str, value: Any) -> None:
        """Upsert a setting inside a writer transaction (for tasks that change several things)."""
        conn.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, msgspec.json.encode(value).decode()),
        )

    async def get_setting(self, key: str, default: Any = None) -> Any:
        raw = await self.read(self._select_setting, key)
        return default if raw is None else msgspec.json.decode(raw)

    def get_setting_blocking(self, key: str, default: Any = None) -> Any:
        raw = self.read_blocking(self._select_setting, key)
        return default if raw is None else msgspec.json.decode(raw)

    async def set_setting(self, key: str, value: Any) -> None:
        await self.write(self.put_setting, key, value)

    # -- backup ------------------------------------------------------------------------------

    def backup_to_blocking(self, dest: str | os.PathLike[str]) -> Path:
        """Copy a consistent snapshot to `dest` through SQLite's online backup API."""
        dest = Path(dest)
        partial = dest.with_name(dest.name + ".partial")
        partial.unlink(missing_ok=True)
        try:
            with self._read_gate.reading():
                self._copy_to(partial)
        except BaseException:
            partial.unlink(missing_ok=True)  # a full card must not stay full of a half copy
            raise
        os.replace(partial, dest)
        sync_directory(dest.parent)  # an acknowledged backup must survive a power cut
        return dest

    def _copy_to(self, partial: Path) -> None:
        source = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            make_private(partial)  # a backup holds the key hashes and the audit trail
            target = sqlite3.connect(partial, isolation_level=None)
            try:
                source.backup(target)  # one step: a single read transaction, so one moment in time
                target.execute(
                    "PRAGMA journal_mode = DELETE"
                )  # a standalone file, no -wal beside it
            finally:
                target.close()
        finally:
            source.close()

    async def backup_to(self, dest: str | os.PathLike[str]) -> Path:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self.backup_to_blocking, dest)

    @contextlib.asynccontextmanager
    async def file_held(self) -> AsyncIterator[Path]:
        """The database file, for a reader in another process: no swap (restore) replaces it
        until the block ends."""
        if self._closed:
            raise DatabaseClosedError("the database is closed")
        await asyncio.to_thread(self._read_gate.enter)
        try:
            yield self.path
        finally:
            self._read_gate.leave()
