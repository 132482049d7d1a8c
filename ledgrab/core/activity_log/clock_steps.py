"""Honest times on a board without a clock. The watcher records one `system.clock_synced` entry
when the clock becomes synchronised (the step: the time before and after); `ClockSteps` then
derives, at read time, the corrected time of every earlier entry of that boot from its offset
since boot. Stored entries are never rewritten: the correction is computed, and marked."""

from __future__ import annotations

import asyncio
import bisect
import logging
from collections import OrderedDict
from datetime import datetime
from typing import Any

import msgspec

from ledgrab.storage.activity_log import ActivityLogEntry, from_us, to_us
from ledgrab.utils.system_clock import SystemClock, read_stamp
from ledgrab.utils.tasks import cancel_and_wait

__all__ = ["CLOCK_SYNCED", "ClockSteps", "ClockSyncWatch", "corrected_fields"]

log = logging.getLogger(__name__)

CLOCK_SYNCED = "system.clock_synced"
_metadata = msgspec.json.Decoder(dict[str, Any])
_UNSYNCED = '"clock":[false,'  # as the recorder's compact JSON writes the stamp


def _stamp(metadata: dict[str, Any]) -> tuple[bool | None, str | None, int | None]:
    return read_stamp(metadata.get("clock"))


class ClockSteps:
    """The synchronisation steps in the log, per boot, oldest first: (offset since boot in µs,
    the synchronised time then in µs). Bounded: the newest `max_boots` boots."""

    def __init__(self, max_boots: int = 1024, max_steps_per_boot: int = 64) -> None:
        self._boots: OrderedDict[str, list[tuple[int, int]]] = OrderedDict()
        self._max_boots, self._max_steps = max_boots, max_steps_per_boot

    def add(self, boot: str, mono_us: int, new_us: int) -> None:
        steps = self._boots.setdefault(boot, [])
        self._boots.move_to_end(boot)
        if (mono_us, new_us) not in steps and len(steps) < self._max_steps:
            bisect.insort(steps, (mono_us, new_us))
        while len(self._boots) > self._max_boots:
            self._boots.popitem(last=False)

    def add_entry(self, metadata: dict[str, Any]) -> None:
        """Take the step a `system.clock_synced` entry's metadata describes (if well-formed)."""
        _synced, boot, _mono = _stamp(metadata)
        mono, new = metadata.get("mono_us"), metadata.get("new")
        if boot is None or type(mono) is not int or not isinstance(new, str):
            return
        try:
            self.add(boot, mono, to_us(datetime.fromisoformat(new)))
        except (ValueError, OverflowError):
            return

    def load_blocking(self, conn: Any) -> None:
        """Read every step the log holds (at start and after a restore: one pass, no index;
        there is at most one a boot)."""
        self._boots.clear()
        rows = conn.execute(
            "SELECT metadata FROM activity_log WHERE action = ? ORDER BY seq", (CLOCK_SYNCED,)
        )
        for (text,) in rows:
            try:
                self.add_entry(_metadata.decode(text))
            except msgspec.DecodeError:
                continue

    def corrected_us(self, boot: str, mono_us: int) -> int | None:
        """The time at `mono_us` of `boot` as the first later step puts it (None: no step yet)."""
        steps = self._boots.get(boot)
        if not steps:
            return None
        index = bisect.bisect_left(steps, (mono_us, -(1 << 62)))
        if index == len(steps):
            return None
        step_mono, step_new = steps[index]
        return step_new - (step_mono - mono_us)

    def age_us(self, ts_us: int, metadata: str) -> int | None:
        """The time retention's age bound compares for a stored row: its ts, or for an entry
        made before its clock was synchronised the corrected time (None: not known yet)."""
        if _UNSYNCED not in metadata:  # nearly every row: no decoding
            return ts_us
        try:
            synced, boot, mono = _stamp(_metadata.decode(metadata))
        except msgspec.DecodeError:
            return ts_us
        if synced is not False:
            return ts_us
        if boot is None or mono is None:
            return None
        return self.corrected_us(boot, mono)


def corrected_fields(
    entry: ActivityLogEntry, steps: ClockSteps | None
) -> tuple[bool | None, datetime | None]:
    """(clock_synchronised, ts_corrected) of an entry as the API shows it: whether its clock was
    synchronised (None: not recorded), and for an unsynchronised one the time derived from the
    next synchronisation step of its boot (None while there is none)."""
    synced, boot, mono = _stamp(entry.metadata)
    if synced is not False or steps is None or boot is None or mono is None:
        return synced, None
    corrected = steps.corrected_us(boot, mono)
    return False, None if corrected is None else from_us(corrected)


class ClockSyncWatch:
    """Reads the sync flag every `interval_s` (adjtimex: no file, no write). When it turns from
    unsynchronised to synchronised, records the step once: the time the old clock would show
    now, the new time, and the offset since boot at that moment."""

    def __init__(
        self, recorder: Any, clock: SystemClock, steps: ClockSteps, interval_s: float = 5.0
    ) -> None:
        self._recorder, self._clock, self._steps = recorder, clock, steps
        self._interval = interval_s
        self._old_offset: float | None = None  # wall minus since-boot while unsynchronised
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self.check()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="clock-sync-watch")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                self.check()
            except Exception:  # a reading that fails must not end the watch
                log.exception("clock check failed")

    def check(self) -> None:
        clock = self._clock
        synced = clock.synchronised()
        since_boot, wall = clock.since_boot(), clock.wall()
        if synced is False:
            self._old_offset = wall - since_boot
            return
        boot = clock.boot_tag
        if not synced or self._old_offset is None or boot is None:
            return
        old = since_boot + self._old_offset
        self._old_offset = None
        mono_us, new_us, old_us = (int(t * 1_000_000) for t in (since_boot, wall, old))
        step_s = round((new_us - old_us) / 1_000_000, 3)
        self._steps.add(boot, mono_us, new_us)
        self._recorder.record(
            "system",
            CLOCK_SYNCED,
            message=(
                f"The clock is synchronised: it moved {_span(step_s)} "
                f"({from_us(old_us).isoformat()} → {from_us(new_us).isoformat()}); "
                "earlier entries of this boot are shown corrected"
            ),
            metadata={
                "old": from_us(old_us).isoformat(),
                "new": from_us(new_us).isoformat(),
                "step_s": step_s,
                "mono_us": mono_us,
            },
        )


def _span(step_s: float) -> str:
    direction = "forward" if step_s >= 0 else "back"
    seconds = abs(step_s)
    for unit, size in (("days", 86_400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit} {direction}"
    return f"{seconds:.3f} s {direction}"
