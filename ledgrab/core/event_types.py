"""The one server-side list of event types on the events websocket (web/js/event-types.js too)."""

__all__ = ["EVENT_TYPES"]

EVENT_TYPES: frozenset[str] = frozenset(
    {
        # feed control
        "hello",
        "events_lagged",
        # activity log and debug log
        "activity_logged",
        "log_record",
        # entities and the LED engine
        "entity_changed",
        "target_started",
        "target_stopped",
        "target_state",
        "device_state",
        "device_health",
        # discovery and capture
        "device_discovered",
        "device_lost",
        "capture_started",
        "capture_stopped",
        # server lifecycle
        "server_shutting_down",
        "database_restored",
    }
)
