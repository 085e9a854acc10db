"""Observability: structured logs with the request's context, the request id carried into
Celery tasks and outbound webhooks, Prometheus metrics behind a token, and OpenTelemetry
tracing and Sentry switched on by their environment variables (docs/observability.md)."""
