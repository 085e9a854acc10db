"""The Prometheus metrics every process records (docs/observability.md lists them).

Label values come from short, fixed sets (a URL pattern's name, a provider kind, a task's
name, an outcome), never from a workspace, a user, a widget or a raw path: a label value
is a time series kept forever, and workspaces are unbounded.

Several processes (uvicorn workers, Celery's pool children): with
``PROMETHEUS_MULTIPROC_DIR`` set before the process starts, prometheus-client keeps each
process's values in memory-mapped files there and the endpoint (``endpoint``) adds them
up. Recording a value is a dictionary lookup and a float add: cheap enough for the chat
path (no allocation beyond the label tuple).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from prometheus_client import Counter, Gauge, Histogram

_FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_ANSWER = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0)
_TASK = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 1800.0)

HTTP_REQUEST_DURATION = Histogram(
    "saas_http_request_duration_seconds",
    "Time to the response's headers, by URL pattern name (streams: to their first byte).",
    ["route", "method", "status"],
    buckets=_FAST,
)
CHAT_TIME_TO_FIRST_TOKEN = Histogram(
    "saas_chat_time_to_first_token_seconds",
    "From the provider call's start to its first delta.",
    ["provider"],
    buckets=_ANSWER,
)
CHAT_ANSWER_DURATION = Histogram(
    "saas_chat_answer_duration_seconds",
    "From the provider call's start to its end, by how it ended.",
    ["provider", "outcome"],
    buckets=_ANSWER,
)
CHAT_PROVIDER_ERRORS = Counter(
    "saas_chat_provider_errors_total",
    "Provider calls that ended in an error, by the error's kind.",
    ["provider", "kind"],
)
RETRIEVAL_DURATION = Histogram(
    "saas_knowledge_retrieval_duration_seconds",
    "One hybrid retrieval (query embedding, vector and full-text search, fusion).",
    buckets=_FAST,
)
CELERY_TASK_DURATION = Histogram(
    "saas_celery_task_duration_seconds",
    "A task's run in the worker, by task name and outcome.",
    ["task", "outcome"],
    buckets=_TASK,
)
REALTIME_CONNECTIONS = Gauge(
    "saas_realtime_open_connections",
    "Open WebSocket and server-sent-event connections, by kind.",
    ["kind"],
    multiprocess_mode="livesum",
)
WEBHOOK_DELIVERIES = Counter(
    "saas_webhook_delivery_attempts_total",
    "Outbound webhook POSTs, by outcome.",
    ["outcome"],
)


def status_class(status: int) -> str:
    """``2xx``...``5xx``: the exact code would multiply the series for little insight."""
    return f"{status // 100}xx"


def webhook_outcome(*, status: int | None, refused: bool, timed_out: bool) -> str:
    if refused:
        return "refused"
    if status is None:
        return "timeout" if timed_out else "connection_error"
    if 200 <= status < 300:
        return "delivered"
    return "http_error"


async def connection_counted(kind: str, body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """``body``, counted in ``REALTIME_CONNECTIONS`` while it streams."""
    gauge = REALTIME_CONNECTIONS.labels(kind)
    gauge.inc()
    try:
        async for chunk in body:
            yield chunk
    finally:
        gauge.dec()
        aclose = getattr(body, "aclose", None)  # left early: the body's cleanup runs now
        if aclose is not None:
            await aclose()
