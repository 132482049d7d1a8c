"""Logging to stdout for journald: one line per record, no timestamps under journald."""

from __future__ import annotations

import logging
import os
import sys

__all__ = ["OneLineFormatter", "configure_logging"]


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
