"""Forwarding the activity log to collectors: syslog (RFC 5424), OTLP/HTTP JSON and webhooks."""
