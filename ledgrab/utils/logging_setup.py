"""Logging to stdout for journald: one line per record, no timestamps under journald."""

from __future__ import annotations

import logging
import os
import sys

__all__ = ["OneLineFormatter", "configure_logging", "demote_chatter"]

# Lines an operator does not need at info level: after ten minutes with a browser open they were
# 45 of the last 50 (a websocket's accept/open/close, every HTTP request of a WLED check).
_CHATTER = {
    "uvicorn.error": ("WebSocket ", "connection open", "connection closed"),
    "httpx": ("HTTP Request:",),
}


class _Demote(logging.Filter):
    """Turns the chatter of one logger into debug records: kept when the level is debug,
    dropped (like any debug record) otherwise."""

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        super().__init__()
        self._prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO:
            return True
        text = record.msg if isinstance(record.msg, str) else ""
        if not any(p in text for p in self._prefixes):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)


def demote_chatter() -> None:
    """Install the demotion on the loggers that chatter (idempotent)."""
    for name, prefixes in _CHATTER.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _Demote) for f in logger.filters):
            logger.addFilter(_Demote(prefixes))


class OneLineFormatter(logging.Formatter):
    """Escapes newlines so a message (or a name inside it) can never forge a second log line."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\r", "\\r").replace("\n", "\\n")


def configure_logging(level: str = "info") -> None:
    # journald stamps each line itself; elsewhere a timestamp helps.
    fmt = "%(levelname)s %(name)s: %(message)s"
    if not os.environ.get("JOURNAL_STREAM"):
        fmt = "%(asctime)s " + fmt
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(OneLineFormatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's own handlers would print a second, differently shaped copy of each line.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    demote_chatter()
