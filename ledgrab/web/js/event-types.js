// Event types the browser accepts from /api/v1/events/ws; must equal ledgrab/core/event_types.py.
export const EVENT_TYPES = new Set([
  "hello",
  "events_lagged",
  "activity_logged",
  "log_record",
  "entity_changed",
  "target_started",
  "target_stopped",
  "target_state",
  "device_state",
  "device_health",
  "device_discovered",
  "device_lost",
  "capture_started",
  "capture_stopped",
  "server_shutting_down",
  "database_restored",
]);
