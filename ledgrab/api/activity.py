"""/api/v1/activity: list (8 filters, keyset pages), get, stats, settings, clear, export, and the
chain: its state, the latest signed checkpoint and a background verification."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, MediaType, Response, delete, get, put
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Stream

from ledgrab.api.activity_export import FORMATS, export_filename, export_stream
from ledgrab.config import Settings
from ledgrab.core.activity_log import unwritten
from ledgrab.core.activity_log.chain_state import ChainState, chain_state
from ledgrab.core.activity_log.context import current_actor
from ledgrab.core.activity_log.lifecycle import ActivityLog
from ledgrab.core.activity_log.recorder import ActivityRecorder
from ledgrab.core.activity_log.settings import ActivityLogSettings
from ledgrab.core.activity_log.unwritten import ListedEntry, ListedPage
from ledgrab.core.activity_log.verify_job import VerifyStatus
from ledgrab.core.entity_events import fire_entity_event
from ledgrab.core.event_bus import EventBus
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
    since: Annotated[datetime | None, QueryParameter(description=_TIME)] = None,
    until: Annotated[datetime | None, QueryParameter(description=_TIME)] = None,
    message_like: Annotated[str | None, QueryParameter(max_length=200)] = None,
) -> ActivityLogFilters:
    """The 8 filters from the query string, shared by the list and the export (a dependency,
    so both document the same parameters); 400 with the reason when they cannot mean
    anything."""
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise HTTPException(status_code=400, detail=f"{name} needs a UTC offset: {_TIME}")
    if since is not None and until is not None and since > until:
        raise HTTPException(status_code=400, detail="since is after until: nothing can match")
    return ActivityLogFilters(
        categories=tuple(category) if category else None,
        severities=tuple(severity) if severity else None,
        actor=actor or None,
        entity_type=entity_type or None,
        entity_id=entity_id or None,
        since=since,
        until=until,
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
        activity_recorder: NamedDependency[ActivityRecorder],
        filters: NamedDependency[ActivityLogFilters],
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=100)] = None,
    ) -> ListedPage:
        try:
            return await unwritten.read_page(db, activity_recorder, filters, limit, cursor)
        except InvalidCursorError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None

    @get("/export", summary="Every matching entry as csv, json or ndjson (streamed)")
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
        return Stream(export_stream(db, filters, format), media_type=media_type, headers=headers)

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
        data: JSONBody[dict[str, Any]],
    ) -> ActivityLogSettings:
        current = activity.recorder.settings
        merged = _validated(current, data, settings.activity.max_pending)
        changed = sorted(k for k in data if getattr(current, k) != getattr(merged, k))
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

    @get("/verify", summary="Verify the chain in the background: progress and result")
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

    @get("/{entry_id:str}", summary="One activity entry")
    async def get_entry(
        self,
        db: NamedDependency[Database],
        activity_recorder: NamedDependency[ActivityRecorder],
        entry_id: FromPath[str],
    ) -> ListedEntry:
        entry = await unwritten.get_entry(db, activity_recorder, entry_id)
        if entry is None:
            raise NotFoundException(f"no activity entry with id {entry_id!r}")
        return entry


def _validated(
    current: ActivityLogSettings, changes: dict[str, Any], max_pending: int
) -> ActivityLogSettings:
    fields = ActivityLogSettings.__struct_fields__
    unknown = sorted(set(changes) - set(fields))
    if unknown:
        raise HTTPException(
            status_code=422,
            detail=f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(fields)}",
        )
    for name, value in changes.items():
        try:
            msgspec.convert({name: value}, ActivityLogSettings)
        except msgspec.ValidationError:
            allowed = _allowed(name)
            raise HTTPException(
                status_code=422, detail=f"{name} = {value!r} is out of range: allowed {allowed}"
            ) from None
    merged = msgspec.structs.replace(current, **changes)
    if merged.max_batch > max_pending:
        raise HTTPException(
            status_code=422,
            detail=f"max_batch = {merged.max_batch} is out of range: allowed 1..{max_pending} "
            "(the recorder's max_pending)",
        )
    return merged


def _allowed(name: str) -> str:
    if name == "enabled":
        return "true or false"
    info = msgspec.inspect.type_info(ActivityLogSettings)
    kind = next(f.type for f in info.fields if f.name == name)
    kind = getattr(kind, "type", kind)  # Annotated description wraps the number type
    return f"{kind.ge}..{kind.le}"


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
