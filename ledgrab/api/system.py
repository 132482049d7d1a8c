"""/api/v1/system: API keys (a new key is shown once) and the debug-log tail."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, delete, get, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import FromPath, JSONBody, QueryParameter

from ledgrab.api.entity_common import MISSING_OR_CONFLICT, ConflictException
from ledgrab.config import LABEL_PATTERN
from ledgrab.core.activity_log.recorder import get_module_recorder
from ledgrab.core.log_broadcaster import LogBroadcaster, LogLine
from ledgrab.storage.api_keys import ApiKeyError, ApiKeyInfo, ApiKeyStore

__all__ = ["SystemController"]


class ApiKeyCreate(msgspec.Struct, forbid_unknown_fields=True):
    label: Annotated[
        str, msgspec.Meta(pattern=LABEL_PATTERN, description="1-64 of A-Z a-z 0-9 . _ -")
    ]


class ApiKeyCreated(msgspec.Struct):
    label: str
    key: str
    hint: str
    created_at: str


def _refused(exc: ApiKeyError) -> HTTPException:
    return HTTPException(status_code=exc.status, detail=str(exc))


class SystemController(Controller):
    path = "/system"
    tags = ["system"]

    @get("/api-keys", summary="List API keys (labels and hints, never the keys)")
    async def list_keys(self, api_keys: NamedDependency[ApiKeyStore]) -> list[ApiKeyInfo]:
        await api_keys.load()
        return api_keys.list()

    @post(
        "/api-keys",
        summary="Create an API key; the key is in this response only",
        raises=[ConflictException],
    )
    async def create_key(
        self, api_keys: NamedDependency[ApiKeyStore], data: JSONBody[ApiKeyCreate]
    ) -> ApiKeyCreated:
        try:
            info, key = await api_keys.create(data.label)
        except ApiKeyError as exc:
            raise _refused(exc) from None
        get_module_recorder().record(
            "auth",
            "auth.key_created",
            entity_type="api_key",
            entity_id=info.label,
            entity_name=info.label,
            message=f'API key "{info.label}" created',
        )
        return ApiKeyCreated(label=info.label, key=key, hint=info.hint, created_at=info.created_at)

    @delete(
        "/api-keys/{label:str}",
        summary="Revoke an API key",
        status_code=204,
        raises=MISSING_OR_CONFLICT,
    )
    async def revoke_key(
        self, api_keys: NamedDependency[ApiKeyStore], label: FromPath[str]
    ) -> None:
        try:
            await api_keys.revoke(label)
        except ApiKeyError as exc:
            raise _refused(exc) from None
        get_module_recorder().record(
            "auth",
            "auth.key_revoked",
            severity="warning",
            entity_type="api_key",
            entity_id=label,
            entity_name=label,
            message=f'API key "{label}" revoked',
        )

    @get(
        "/logs",
        summary="The newest lines of the server's debug log (memory only)",
        sync_to_thread=False,
    )
    def log_tail(
        self,
        log_broadcaster: NamedDependency[LogBroadcaster],
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 200,
        after_seq: Annotated[int, QueryParameter(ge=0)] = 0,
    ) -> list[LogLine]:
        return log_broadcaster.tail(limit, after_seq)
