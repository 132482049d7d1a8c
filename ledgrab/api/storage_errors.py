"""An SQLite error reaching a handler: 507 when the card is full, 503 for other storage faults."""

from __future__ import annotations

import logging
import sqlite3

from litestar import Request, Response
from litestar.status_codes import (
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
    HTTP_507_INSUFFICIENT_STORAGE,
)

from ledgrab.storage.faults import StorageFaultError, storage_fault

__all__ = ["STORAGE_ERRORS", "storage_error_handler"]

log = logging.getLogger("ledgrab.api")
# The exceptions storage_error_handler answers.
STORAGE_ERRORS = (sqlite3.Error, StorageFaultError)


def storage_error_handler(request: Request, exc: sqlite3.Error | StorageFaultError) -> Response:
    """Every write runs in one transaction, so a failed one changed nothing: say so, and why.
    The episode is logged once by the database, not once per request."""
    fault = exc.fault if isinstance(exc, StorageFaultError) else storage_fault(exc)
    if fault is None:  # not the card: a bug, answered like any other unhandled error
        log.error(
            "unhandled database error in %s %s", request.method, request.url.path, exc_info=exc
        )
        status = HTTP_500_INTERNAL_SERVER_ERROR
        return Response(
            {"status_code": status, "detail": "Internal Server Error"}, status_code=status
        )
    db = request.app.state.get("db")
    if db is not None:
        if fault.kind == "io_error" and db.fault is not None and db.fault.kind == "full":
            fault = db.fault  # a full card can also surface as an I/O error
        db.note_fault(fault)
    status = HTTP_507_INSUFFICIENT_STORAGE if fault.kind == "full" else HTTP_503_SERVICE_UNAVAILABLE
    return Response(
        {
            "status_code": status,
            "detail": f"{fault.summary}; nothing was changed",
            "extra": {"fault": fault.kind},
        },
        status_code=status,
    )
