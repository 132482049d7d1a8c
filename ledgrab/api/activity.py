"""/api/v1/activity: list (8 filters, keyset pages), get, stats, settings, clear, export, and the
chain: its state, the latest signed checkpoint and a background verification."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, MediaType, Request, Response, delete, get, put
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Stream

from ledgrab.api.openapi_doc import DATE_TIME_PATTERN, streamed_answer_operation
from ledgrab.api.validation import FieldError, decode_strict, error_answers, invalid_fields
from ledgrab.config import Settings
from ledgrab.core.activity_log import unwritten
from ledgrab.core.activity_log.chain_state import ChainState, chain_state
from ledgrab.core.activity_log.context import current_actor
from ledgrab.core.activity_log.export import FORMATS, export_filename
from ledgrab.core.activity_log.export_worker import export_in_worker
from ledgrab.core.activity_log.lifecycle import ActivityLog
from ledgrab.core.activity_log.recorder import ActivityRecorder
from ledgrab.core.activity_log.settings import ActivityLogSettings, ActivityLogSettingsPatch
from ledgrab.core.activity_log.unwritten import ListedEntry, ListedPage
from ledgrab.core.activity_log.verify_job import VerifyStatus
from ledgrab.core.entity_events import fire_entity_event
from ledgrab.core.event_bus import EventBus
from ledgrab.models.bodies import patch_fields
from ledgrab.storage import activity_chain
from ledgrab.storage.activity_log import (
    ActivityLogFilters,
    ActivityLogRepository,
    Category,
    Severity,
)
from ledgrab.storage.activity_query import InvalidCursorError
from ledgrab.storage.database import Database
from ledgrab.utils.plain_text import plural

__all__ = ["ActivityController", "ActivityStats"]

log = logging.getLogger(__name__)

_CATEGORY = QueryParameter(description="repeatable: entity, auth, device, system")
_SEVERITY = QueryParameter(description="repeatable: info, warning, error, critical")
_TIME = "ISO 8601 with a UTC offset, e.g. 2026-05-01T12:00:00+02:00"
# A time is a date-time string only: a bare number is not read as a timestamp.
_MOMENT = QueryParameter(
    description=_TIME,
    max_length=40,
    format="date-time",
    schema_extra={"pattern": DATE_TIME_PATTERN},  # documented, not enforced: see openapi_doc
)
EXPORT_DISPOSITION = ResponseHeader(
    name="Content-Disposition",
    description='attachment; filename="ledgrab-activity-<time>.<format>"',
    documentation_only=True,
)


def _moment(name: str, text: str | None) -> datetime | None:
    """A query time: ISO 8601 with a UTC offset (400 naming the parameter otherwise)."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or "T" not in text:
        raise invalid_fields("filters", [FieldError(name, f"must be a date and time: {_TIME}")])
    return moment


class ActivityStats(msgspec.Struct):
    total: int  # stored and waiting entries
    by_category: dict[str, int]
    by_severity: dict[str, int]
    oldest: datetime | None
    newest: datetime | None
    database_bytes: int
    database_free_bytes: int
    pending: int  # of the total, how many wait to be committed
    dropped: int
    state: str
    reason: str | None


def query_filters(
    category: Annotated[list[Category] | None, _CATEGORY] = None,
    severity: Annotated[list[Severity] | None, _SEVERITY] = None,
    actor: Annotated[str | None, QueryParameter(max_length=200)] = None,
    entity_type: Annotated[str | None, QueryParameter(max_length=200)] = None,
    entity_id: Annotated[str | None, QueryParameter(max_length=200)] = None,
    since: Annotated[str | None, _MOMENT] = None,
    until: Annotated[str | None, _MOMENT] = None,
    message_like: Annotated[str | None, QueryParameter(max_length=200)] = None,
) -> ActivityLogFilters:
    """The 8 filters from the query string, shared by the list and the export (a dependency,
    so both document the same parameters); 400 with the reason when they cannot mean
    anything."""
    # `since` after `until` is a well-formed question whose answer is empty.
    since_at, until_at = _moment("since", since), _moment("until", until)
    return ActivityLogFilters(
        categories=tuple(category) if category else None,
        severities=tuple(severity) if severity else None,
        actor=actor or None,
        entity_type=entity_type or None,
        entity_id=entity_id or None,
        since=since_at,
        until=until_at,
        message_like=message_like or None,
    )


class ActivityController(Controller):
    path = "/activity"
    tags = ["activity"]
    dependencies = {"filters": Provide(query_filters, sync_to_thread=False)}

    @get("/", summary="Activity entries, newest first, filtered, keyset-paged")
    async def list_entries(
        self,
        db: NamedDependency[Database],
        activity: NamedDependency[ActivityLog],
        activity_recorder: NamedDependency[ActivityRecorder],
        filters: NamedDependency[ActivityLogFilters],
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=100)] = None,
    ) -> ListedPage:
        try:
            return await unwritten.read_page(
                db, activity_recorder, filters, limit, cursor, activity.clock_steps
            )
        except InvalidCursorError:
            raise invalid_fields(
                "filters", [FieldError("cursor", "is not one this server handed out")]
            ) from None

    @get(
        "/export",
        summary="Every matching entry as csv, json or ndjson (streamed)",
        operation_class=streamed_answer_operation(
            tuple(media for media, _ in FORMATS.values()),
            "the entries, in the format asked for",
            json_items="ExportedEntry",
        ),
        response_headers=[EXPORT_DISPOSITION],
    )
    async def export(
        self,
        db: NamedDependency[Database],
        activity_recorder: NamedDependency[ActivityRecorder],
        filters: NamedDependency[ActivityLogFilters],
        format: Annotated[str, QueryParameter(pattern="^(csv|json|ndjson)$")] = "csv",
    ) -> Stream:
        media_type, extension = FORMATS[format]
        headers = {"Content-Disposition": f'attachment; filename="{export_filename(extension)}"'}
        # The entries still waiting are committed first, so the export holds them with their
        # seq and chain value (an export is rare and explicit: one extra commit is no wear).
        try:
            await activity_recorder.flush()
        except Exception as exc:  # a failing card: the export says what it could not include
            waiting = activity_recorder.pending
            log.warning("export without %d waiting entries: %s", waiting, exc)
            headers["X-LedGrab-Not-Included"] = (
                f"{plural(waiting, 'entry', 'entries')} waiting to be written: {exc}"
            )
        return Stream(export_in_worker(db, filters, format), media_type=media_type, headers=headers)

    @get("/stats", summary="Counts per category and severity, time span, size, writer state")
    async def stats(
        self, db: NamedDependency[Database], activity_recorder: NamedDependency[ActivityRecorder]
    ) -> ActivityStats:
        figures = await unwritten.stats(db, activity_recorder)
        status = activity_recorder.status()
        return ActivityStats(
            **figures,
            pending=status.pending,
            dropped=status.dropped_total,
            state=status.state,
            reason=status.reason,
        )

    @get("/settings", summary="Activity-log settings", sync_to_thread=False)
    def get_settings(
        self, activity_recorder: NamedDependency[ActivityRecorder]
    ) -> ActivityLogSettings:
        return activity_recorder.settings

    @put("/settings", summary="Change activity-log settings (only the fields sent change)")
    async def put_settings(
        self,
        db: NamedDependency[Database],
        activity: NamedDependency[ActivityLog],
        settings: NamedDependency[Settings],
        bus: NamedDependency[EventBus],
        request: Request,
        data: JSONBody[ActivityLogSettingsPatch],
    ) -> ActivityLogSettings:
        sent = await decode_strict(request, ActivityLogSettingsPatch, "activity-log settings")
        changes = patch_fields(sent)
        current = activity.recorder.settings
        merged = _validated(current, changes, settings.activity.max_pending)
        changed = sorted(k for k in changes if getattr(current, k) != getattr(merged, k))
        if changed:
            await activity.apply(db, merged)
            fire_entity_event(
                bus,
                "settings",
                "updated",
                "activity_log",
                entity_name="Activity log",
                changed_fields=changed,
            )
        return merged

    @delete("/", summary="Clear the log (the clearing itself is its first new entry)")
    async def clear(
        self, db: NamedDependency[Database], activity_recorder: NamedDependency[ActivityRecorder]
    ) -> None:
        actor = current_actor.get()
        await db.write(_clear, activity_recorder, actor)

    @get("/chain", summary="The chain's head, anchor, latest checkpoint and signing key")
    async def chain(
        self, db: NamedDependency[Database], activity: NamedDependency[ActivityLog]
    ) -> ChainState:
        return await db.read(chain_state, activity.key, activity.recorder.settings)

    @get(
        "/checkpoint",
        summary="The latest signed checkpoint (C2SP tlog-checkpoint style text)",
        media_type=MediaType.TEXT,
        raises=[NotFoundException],
    )
    async def checkpoint(self, db: NamedDependency[Database]) -> Response[str]:
        latest = await db.read(activity_chain.latest_checkpoint)
        if latest is None:
            raise NotFoundException("no checkpoint yet: one is signed with the next entries")
        return Response(
            latest[3],
            media_type=MediaType.TEXT,
            headers={"Content-Disposition": f'attachment; filename="checkpoint-{latest[0]}.txt"'},
        )

    @get(
        "/verify",
        summary="Verify the chain in the background: progress and result",
        responses=error_answers(e503="Verification is not available"),
    )
    async def verify(
        self,
        activity: NamedDependency[ActivityLog],
        run: Annotated[bool, QueryParameter(description="start a new check")] = False,
    ) -> VerifyStatus:
        job = activity.verify_job
        if job is None:
            raise HTTPException(status_code=503, detail="verification is not available")
        if run or job.status().state == "idle":
            job.start()
        return job.status()

    @get("/{entry_id:str}", summary="One activity entry", raises=[NotFoundException])
    async def get_entry(
        self,
        db: NamedDependency[Database],
        activity: NamedDependency[ActivityLog],
        activity_recorder: NamedDependency[ActivityRecorder],
        entry_id: FromPath[str],
    ) -> ListedEntry:
        entry = await unwritten.get_entry(db, activity_recorder, entry_id, activity.clock_steps)
        if entry is None:
            raise NotFoundException(f"no activity entry with id {entry_id!r}")
        return entry


def _validated(
    current: ActivityLogSettings, changes: dict[str, Any], max_pending: int
) -> ActivityLogSettings:
    merged = msgspec.structs.replace(current, **changes)
    if merged.max_batch > max_pending:
        message = f"must be at most {max_pending} (the recorder's max_pending)"
        raise invalid_fields("activity-log settings", [FieldError("max_batch", message)])
    return merged


def _clear(conn: Any, recorder: ActivityRecorder, actor: str) -> None:
    """In one transaction: empty the table, drop what waited, and write the clearing entry
    (it rides on this very commit, so it is the first entry of the new log)."""
    removed = ActivityLogRepository.clear(conn, signer=recorder.signer) + recorder.discard_pending()
    if recorder.checkpointer is not None:  # a clear is signed at once, not an interval later
        recorder.checkpointer.seal_next()
    recorder.record(
        "system",
        "activity.cleared",
        actor=actor,
        message=f"Activity log cleared by {actor} ({plural(removed, 'entry', 'entries')} removed)",
        metadata={"removed": removed},
        _bypass_enabled=True,
    )
