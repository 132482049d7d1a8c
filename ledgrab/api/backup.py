"""/api/v1/system/backup, /restore and /backup/auto: download, upload-and-restore, schedule."""

from __future__ import annotations

from typing import Annotated

import anyio
import msgspec
from litestar import Controller, Request, get, post, put
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, ValidationException
from litestar.params import JSONBody, QueryParameter
from litestar.response import File

from ledgrab.api.openapi_doc import binary_body_operation
from ledgrab.api.validation import error_answers, field_error, invalid_fields
from ledgrab.core.backup.auto_backup import (
    AutoBackup,
    AutoBackupConfig,
    AutoBackupError,
    AutoBackupStatus,
    BackupFile,
)
from ledgrab.core.backup.check import BackupRejected
from ledgrab.core.backup.quarantine import RecoveryNotice
from ledgrab.core.backup.service import (
    BackupBusyError,
    BackupService,
    NoSpaceError,
    RestoreFailedError,
    RestoreResult,
    UploadTooLargeError,
)
from ledgrab.core.entity_events import fire_entity_event
from ledgrab.core.event_bus import EventBus

__all__ = ["BackupController"]

SQLITE_MEDIA_TYPE = "application/vnd.sqlite3"
# Each chunk is encrypted for TLS on the event loop in one go, between two frame ticks: Litestar's
# 1 MiB took milliseconds there; 64 KiB is a tenth of a millisecond.
DOWNLOAD_CHUNK_BYTES = 64 * 1024
DISPOSITION = ResponseHeader(
    name="Content-Disposition",
    description='attachment; filename="ledgrab-<time>.db"',
    documentation_only=True,
)


class RecoveryAcknowledged(msgspec.Struct):
    acknowledged: dict[str, str | None]


RawUploadOperation = binary_body_operation(
    (SQLITE_MEDIA_TYPE, "application/octet-stream"), "the .db file a backup download gave"
)


async def _unlink(path: anyio.Path) -> None:
    await path.unlink(missing_ok=True)


class BackupController(Controller):
    path = "/system"
    tags = ["backup"]

    @get(
        "/backup",
        summary="Download a consistent snapshot of the whole database (configuration and log)",
        media_type=SQLITE_MEDIA_TYPE,
        response_headers=[DISPOSITION],
        responses=error_answers(e503="Another backup or restore is running"),
    )
    async def download(self, backup: NamedDependency[BackupService]) -> File:
        try:
            path, name = await backup.snapshot_for_download()
        except BackupBusyError as exc:
            raise HTTPException(status_code=503, detail=str(exc)) from None
        return File(
            path=path,
            filename=name,
            media_type=SQLITE_MEDIA_TYPE,
            chunk_size=DOWNLOAD_CHUNK_BYTES,
            background=BackgroundTask(_unlink, anyio.Path(path)),
        )

    @post(
        "/restore",
        summary="Upload a backup (the raw .db file as the body) and make it the live database",
        description="Checked before anything changes; a bad file gets a 400 saying what is wrong. "
        "Targets stop, the file is swapped, targets with auto_start start again. API keys "
        "become those of the backup (keys from the configuration stay).",
        request_max_body_size=None,  # the service enforces [backup] max_upload_bytes itself
        status_code=200,
        operation_class=RawUploadOperation,
        responses=error_answers(
            e409="Another backup or restore is running",
            e413="The upload is larger than [backup] max_upload_bytes",
            e415="A form upload: send the file itself as the body",
            e500="The swap failed; the previous database is back in place",
            e507="Not enough free space to take the upload",
        ),
    )
    async def restore(
        self,
        request: Request,
        backup: NamedDependency[BackupService],
        name: Annotated[
            str, QueryParameter(max_length=200, description="file name, for the log")
        ] = "upload",
        origin: Annotated[
            str | None,
            QueryParameter(max_length=64, description="echoed in the database_restored event"),
        ] = None,
        force: Annotated[
            bool,
            QueryParameter(
                description="accept a file whose activity log does not verify (recorded as a "
                "critical entry)"
            ),
        ] = False,
    ) -> RestoreResult:
        if request.headers.get("content-type", "").startswith("multipart/"):
            raise HTTPException(
                status_code=415,
                detail="send the backup file itself as the request body "
                "(curl --data-binary @backup.db), not as a form upload",
            )
        limit = backup.settings.max_upload_bytes
        if (request.content_length or 0) > limit:
            raise HTTPException(
                status_code=413,
                detail=f"the upload is larger than the limit of {limit} bytes "
                "([backup] max_upload_bytes)",
            )
        try:
            return await backup.restore_upload(
                request.stream(), request.content_length, name, origin=origin, force=force
            )
        except UploadTooLargeError as exc:
            raise HTTPException(status_code=413, detail=str(exc)) from None
        except NoSpaceError as exc:
            raise HTTPException(status_code=507, detail=f"not restored: {exc}") from None
        except BackupRejected as exc:
            raise ValidationException(
                detail=f"not restored: {exc}", extra={"reason": exc.kind}
            ) from None
        except BackupBusyError as exc:
            raise HTTPException(status_code=409, detail=str(exc)) from None
        except RestoreFailedError as exc:
            raise HTTPException(status_code=500, detail=str(exc)) from None

    @post(
        "/database/recovery/ack",
        summary="Acknowledge a database set aside (or rebuilt) at startup; /health is ok again",
        description="Answers what was acknowledged; 404 when nothing waits. Recorded in the "
        "activity log. The file set aside stays where it is.",
        status_code=200,
        responses=error_answers(e404="No database recovery waits to be acknowledged"),
    )
    async def acknowledge_recovery(self, request: Request) -> RecoveryAcknowledged:
        notice: RecoveryNotice = request.app.state.recovery_notice
        acknowledged = await notice.acknowledge()
        if acknowledged is None:
            raise HTTPException(
                status_code=404, detail="no database recovery waits to be acknowledged"
            )
        return RecoveryAcknowledged(acknowledged)

    @get("/backup/auto", summary="Auto-backup settings, state and the backups kept")
    async def auto_status(self, auto_backup: NamedDependency[AutoBackup]) -> AutoBackupStatus:
        return await auto_backup.status()

    @put("/backup/auto", summary="Change auto-backup settings (persisted, applied at once)")
    async def auto_configure(
        self,
        auto_backup: NamedDependency[AutoBackup],
        bus: NamedDependency[EventBus],
        data: JSONBody[AutoBackupConfig],
    ) -> AutoBackupStatus:
        before = msgspec.structs.asdict(auto_backup.config)
        try:
            await auto_backup.configure(data)
        except ValueError as exc:
            raise invalid_fields("auto-backup settings", [field_error(str(exc))]) from None
        after = msgspec.structs.asdict(data)
        changed = sorted(k for k in after if after[k] != before.get(k))
        if changed:
            fire_entity_event(
                bus, "settings", "updated", "auto_backup", entity_name="Auto-backup",
                changed_fields=changed,
            )  # fmt: skip
        return await auto_backup.status()

    @post(
        "/backup/auto/run",
        summary="Make an auto-backup now (with the saved settings)",
        responses=error_answers(e409="No destination is set, or a backup is already running"),
    )
    async def auto_run(self, auto_backup: NamedDependency[AutoBackup]) -> BackupFile:
        try:
            path = await auto_backup.run_once()
        except AutoBackupError as exc:
            raise HTTPException(status_code=409, detail=str(exc)) from None
        status = await auto_backup.status()
        return next(b for b in status.backups if b.name == path.name)
