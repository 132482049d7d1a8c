"""Dependency-injection getters: each returns a long-lived object the lifespan put in app.state."""

from __future__ import annotations

from litestar.datastructures import State

from ledgrab.config import Settings
from ledgrab.core.activity_log.recorder import ActivityRecorder
from ledgrab.core.activity_log.retention import RetentionEngine
from ledgrab.core.event_bus import EventBus
from ledgrab.storage.activity_log import ActivityLogRepository
from ledgrab.storage.api_keys import ApiKeyStore
from ledgrab.storage.database import Database
from ledgrab.utils.log_broadcaster import LogBroadcaster

__all__ = [
    "get_activity_log_repo",
    "get_activity_log_retention_engine",
    "get_activity_recorder",
    "get_api_keys",
    "get_database",
    "get_event_bus",
    "get_log_broadcaster",
    "get_settings",
]


def get_settings(state: State) -> Settings:
    return state.settings


def get_database(state: State) -> Database:
    return state.db


def get_event_bus(state: State) -> EventBus:
    return state.bus


def get_api_keys(state: State) -> ApiKeyStore:
    return state.api_keys


def get_log_broadcaster(state: State) -> LogBroadcaster:
    return state.log_broadcaster


def get_activity_recorder(state: State) -> ActivityRecorder:
    return state.activity_recorder


def get_activity_log_repo() -> ActivityLogRepository:
    return _REPO


def get_activity_log_retention_engine(state: State) -> RetentionEngine:
    return state.activity_retention


_REPO = ActivityLogRepository()
