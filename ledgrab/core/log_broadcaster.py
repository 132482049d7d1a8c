"""A bounded in-memory tail of Python logging for the UI's log viewer (not the activity log)."""

from __future__ import annotations

import logging
import threading
from collections import deque
from datetime import UTC, datetime

import msgspec

from ledgrab.core.event_bus import EventBus

__all__ = ["LogBroadcaster", "LogLine"]

_EXC_FORMATTER = logging.Formatter()


class LogLine(msgspec.Struct, frozen=True):
    seq: int
    ts: str
    level: str
    logger: str
    message: str


class LogBroadcaster(logging.Handler):
    """Keeps the newest `capacity` records and publishes each as a `log_record` event.

    emit() may run on any thread; a record logged while publishing is not re-published.
    """

    def __init__(self, capacity: int = 1000, level: int = logging.DEBUG) -> None:
        super().__init__(level)
        self._lines: deque[LogLine] = deque(maxlen=capacity)
        self._lines_lock = threading.Lock()
        self._seq = 0
        self._bus: EventBus | None = None
        self._inside = threading.local()

    def attach(self, bus: EventBus | None) -> None:
        self._bus = bus

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(self._inside, "active", False):
            return
        self._inside.active = True
        try:
            message = record.getMessage()
            if record.exc_info:
                message += " | " + _EXC_FORMATTER.formatException(record.exc_info).replace(
                    "\n", " | "
                )
            with self._lines_lock:
                self._seq += 1
                line = LogLine(
                    seq=self._seq,
                    ts=datetime.fromtimestamp(record.created, UTC).isoformat(
                        timespec="milliseconds"
                    ),
                    level=record.levelname.lower(),
                    logger=record.name,
                    message=message,
                )
                self._lines.append(line)
            bus = self._bus
            if bus is not None:
                bus.publish("log_record", {"line": msgspec.to_builtins(line)})
        except Exception:
            self.handleError(record)
        finally:
            self._inside.active = False

    def tail(self, limit: int | None = None, after_seq: int = 0) -> list[LogLine]:
        with self._lines_lock:
            lines = [line for line in self._lines if line.seq > after_seq]
        return lines[-limit:] if limit else lines
