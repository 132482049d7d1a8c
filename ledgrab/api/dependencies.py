"""Dependency-injection getters: each returns a long-lived object the lifespan put in app.state."""

from __future__ import annotations

from litestar.datastructures import State

from ledgrab.config import Settings
from ledgrab.core.activity_log.lifecycle import ActivityLog
from ledgrab.core.activity_log.recorder import ActivityRecorder
from ledgrab.core.backup.auto_backup import AutoBackup
from ledgrab.core.backup.service import BackupService
from ledgrab.core.devices.discovery_watcher import DiscoveryWatcher
from ledgrab.core.effects.capture_receiver import CaptureHub
from ledgrab.core.event_bus import EventBus
from ledgrab.core.log_broadcaster import LogBroadcaster
from ledgrab.core.processing.device_health import DeviceHealthMonitor
from ledgrab.core.processing.processor_manager import ProcessorManager
from ledgrab.storage.api_keys import ApiKeyStore
from ledgrab.storage.database import Database
from ledgrab.storage.entities import EntityStore

__all__ = [
    "get_activity_log",
    "get_activity_recorder",
    "get_api_keys",
    "get_auto_backup",
    "get_backup_service",
    "get_capture_hub",
    "get_database",
    "get_device_health",
    "get_discovery",
    "get_engine",
    "get_entities",
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


def get_activity_log(state: State) -> ActivityLog:
    return state.activity


def get_backup_service(state: State) -> BackupService:
    return state.backup


def get_auto_backup(state: State) -> AutoBackup:
    return state.auto_backup


def get_activity_recorder(state: State) -> ActivityRecorder:
    return state.activity_recorder


def get_discovery(state: State) -> DiscoveryWatcher:
    return state.discovery


def get_capture_hub(state: State) -> CaptureHub:
    return state.capture_hub


def get_entities(state: State) -> EntityStore:
    return state.entities


def get_engine(state: State) -> ProcessorManager:
    return state.engine


def get_device_health(state: State) -> DeviceHealthMonitor | None:
    return state.device_health
