"""The activity log: who did what, recorded for flash (context, recorder, retention)."""
