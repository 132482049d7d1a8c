"""The running forwarders of one server: load, replace (persisting config and starting
cursors in one write), status for the API and /health, stop."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from typing import Any

import msgspec

from ledgrab.config import ForwardingConfig as Timings
from ledgrab.core.forwarding.config import (
    FORWARDERS_KEY,
    ForwarderConfig,
    forwarders_from_stored,
)
from ledgrab.core.forwarding.cursors import CURSORS_KEY, CursorStore
from ledgrab.core.forwarding.forwarder import Forwarder, ForwarderStatus
from ledgrab.storage import activity_chain
from ledgrab.storage.activity_log import ActivityLogRepository
from ledgrab.storage.database import Database

__all__ = ["ForwardingService"]

log = logging.getLogger(__name__)


class ForwardingService:
    def __init__(
        self,
        db: Database,
        recorder: Any,
        timings: Timings,
        device_id: str,
        fixed: list[ForwarderConfig] | None = None,
    ) -> None:
        self._db, self._recorder, self._timings = db, recorder, timings
        self._device_id = device_id
        # From the TOML file: running beside the stored ones, not changeable through the API.
        self.fixed = list(fixed or [])
        self.configs: list[ForwarderConfig] = list(self.fixed)
        self._running: dict[str, Forwarder] = {}
        self._cursors = CursorStore({}, timings.cursor_write_interval_s)

    @classmethod
    async def start(
        cls,
        db: Database,
        recorder: Any,
        timings: Timings,
        device_id: str,
        fixed: list[ForwarderConfig] | None = None,
    ) -> ForwardingService:
        service = cls(db, recorder, timings, device_id, fixed)
        db.add_batch_source(service._cursors)
        await service.load()
        return service

    async def load(self) -> None:
        """(Re)start from what the database holds: at start, and after a restore replaced it."""
        await asyncio.to_thread(self._stop, list(self._running))
        raw = await self._db.get_setting(FORWARDERS_KEY, [])
        stored = forwarders_from_stored(raw)
        if isinstance(raw, list) and len(stored) != len(raw):
            skipped = len(raw) - len(stored)
            log.warning("%d stored forwarder(s) no longer valid: skipped", skipped)
        fixed_names = {c.name for c in self.fixed}
        for config in stored:
            if config.name in fixed_names:
                log.warning("forwarder %s is set in the config file: the stored one is ignored",
                            config.name)  # fmt: skip
        self.configs = self.fixed + [c for c in stored if c.name not in fixed_names]
        cursors = await self._db.get_setting(CURSORS_KEY, {})
        if not isinstance(cursors, dict):
            cursors = {}
        self._cursors.replace({k: v for k, v in cursors.items() if isinstance(v, int)})
        missing = [c for c in self.configs if self._cursors.get(c.name) is None]
        if missing:
            log.info("no cursor yet for %s: starting where `start` says",
                     ", ".join(c.name for c in missing))  # fmt: skip
            for name, seq in (await self._db.read(_start_seqs, missing)).items():
                self._cursors.set(name, seq)
        await asyncio.to_thread(self._start_all)

    def _start_all(self) -> None:
        for config in self.configs:
            if config.enabled and config.name not in self._running:
                forwarder = Forwarder(
                    config,
                    self._cursors.get(config.name) or 0,
                    db=self._db,
                    recorder=self._recorder,
                    timings=self._timings,
                    device_id=self._device_id,
                    on_cursor=self._cursors.set,
                )
                self._running[config.name] = forwarder
                forwarder.start()

    def _stop(self, names: list[str]) -> None:
        # All asked first, then joined: dead collectors cost one socket timeout, not one each.
        stopping = [f for n in names if (f := self._running.pop(n, None)) is not None]
        for forwarder in stopping:
            forwarder.request_stop()
        for forwarder in stopping:
            forwarder.stop()

    def stored(self) -> list[ForwarderConfig]:
        """The forwarders set through the API (the ones a PUT replaces)."""
        fixed = {c.name for c in self.fixed}
        return [c for c in self.configs if c.name not in fixed]

    async def replace(self, configs: list[ForwarderConfig]) -> list[str]:
        """Persist `configs` (the API's list; new forwarders' cursors in the same transaction)
        and restart the changed ones; returns the names added, changed or removed."""
        old = {c.name: c for c in self.stored()}
        new = {c.name: c for c in configs}
        changed = sorted(
            {n for n in old if n not in new or old[n] != new[n]} | {n for n in new if n not in old}
        )
        await asyncio.to_thread(self._stop, [n for n in changed if n in self._running])
        added = [c for c in configs if c.name not in old]
        await self._db.write(_save, configs, added, self._cursors, self.fixed)
        self.configs = self.fixed + configs
        await asyncio.to_thread(self._start_all)
        return changed

    def wake(self) -> None:
        for forwarder in self._running.values():
            forwarder.wake()

    def statuses(self) -> dict[str, ForwarderStatus | None]:
        """Per configured forwarder its status; None when disabled."""
        return {
            c.name: (f.status() if (f := self._running.get(c.name)) else None) for c in self.configs
        }

    def health(self) -> tuple[str, str | None, dict[str, Any]]:
        details: dict[str, Any] = {}
        failing = []
        for name, status in self.statuses().items():
            if status is None:
                details[name] = {"state": "disabled"}
                continue
            details[name] = msgspec.to_builtins(status)
            if status.state != "ok":
                failing.append(f"{name}: {status.last_error}")
        return ("degraded" if failing else "ok"), "; ".join(failing) or None, details

    async def stop(self) -> None:
        """Stop every thread; the cursors go with the database's last commit."""
        await asyncio.to_thread(self._stop, list(self._running))
        # The cursor store stays a batch source: the database's closing commit carries it.
        self._cursors.write_with_next_commit()


def _start_seqs(conn: sqlite3.Connection, configs: list[ForwarderConfig]) -> dict[str, int]:
    """Where new forwarders start: after the newest entry (the chain's head, which survives a
    clear), or just before the oldest entry still held."""
    low = ActivityLogRepository.seq_bounds(conn)[0]
    newest = activity_chain.head(conn)[0]
    return {c.name: low - 1 if c.start == "oldest" and low is not None else newest for c in configs}


def _save(
    conn: sqlite3.Connection,
    configs: list[ForwarderConfig],
    added: list[ForwarderConfig],
    cursors: CursorStore,
    fixed: list[ForwarderConfig],
) -> None:
    """One transaction: the list, and (through the cursor store, a batch source written right
    after this) the cursors of the forwarders kept and the starts of the new ones."""
    Database.put_setting(conn, FORWARDERS_KEY, msgspec.to_builtins(configs))
    cursors.keep_only({c.name for c in [*fixed, *configs]})
    for name, seq in _start_seqs(conn, added).items():
        cursors.set(name, seq)
