"""OpenTelemetry tracing and Sentry, each on only when its variable is set:

* ``OTEL_EXPORTER_OTLP_ENDPOINT``: spans for Django requests, Celery tasks and psycopg
  queries, exported over OTLP/HTTP in batches. ``OTEL_SERVICE_NAME`` (default ``saas``) and
  the other standard ``OTEL_*`` variables are read by the SDK itself.
* ``SENTRY_DSN``: errors (and, with ``SENTRY_TRACES_SAMPLE_RATE`` above 0, performance
  samples); ``SENTRY_ENVIRONMENT``, ``SENTRY_RELEASE``. No personal data is sent
  (``send_default_pii`` off): visitors' messages are our customers' data.

Unset, neither library is imported: no start-up cost, nothing to misconfigure. Both start
from ``apps.ObservabilityConfig.ready`` (before Django builds its middleware chain, which
the Django instrumentation extends), in every process: web, worker, beat.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:  # the type only: the SDK itself is imported when SENTRY_DSN is set
    from sentry_sdk._types import Event


def tracing_start() -> bool:
    """Start OpenTelemetry when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set; True if it did."""
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return False
    # Imported here: unset, the SDK and its instrumentations are never loaded.
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return True  # already started in this process
    resource = Resource.create({SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME", "saas")})
    provider = TracerProvider(resource=resource)
    # The exporter reads the endpoint (and headers, timeout) from the OTEL_* variables.
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    DjangoInstrumentor().instrument()
    CeleryInstrumentor().instrument()  # type: ignore[no-untyped-call]
    PsycopgInstrumentor().instrument(enable_commenter=False)
    return True


def sentry_start() -> bool:
    """Start Sentry when ``SENTRY_DSN`` is set; True if it did."""
    dsn = os.environ.get("SENTRY_DSN")
    if not dsn:
        return False
    # Imported here: unset, the SDK is never loaded.
    import sentry_sdk

    sentry_sdk.init(
        dsn=dsn,
        environment=os.environ.get("SENTRY_ENVIRONMENT", "production"),
        release=os.environ.get("SENTRY_RELEASE") or None,
        traces_sample_rate=float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE", "0")),
        send_default_pii=False,
        before_send=sentry_event_tag,
    )
    return True


def sentry_event_tag(event: Event, hint: dict[str, Any]) -> Event:
    """Tag a Sentry event with the request id, workspace and task bound when it happened:
    the error then leads to the request's log lines (and the support ticket to the error)."""
    bound = structlog.contextvars.get_contextvars()
    tags = event.setdefault("tags", {})
    for field in ("request_id", "workspace", "task"):
        if bound.get(field):
            tags.setdefault(field, str(bound[field]))
    return event
