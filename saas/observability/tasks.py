"""Celery's side: the request id travels in the task's headers (``request_id``), the worker
binds it with the task's name and id for the task's log lines, logs the task's end with its
duration and outcome, and records the duration in the metrics.

Connected once from ``apps.ObservabilityConfig.ready`` (web and worker processes alike:
the web publishes, the worker runs).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import structlog
from celery import signals

from .context import CELERY_HEADER, request_id_current
from .metrics import CELERY_TASK_DURATION
from .worker_metrics import on_worker_ready

task_log = structlog.get_logger("saas.tasks")
# task id -> (perf_counter at prerun, the context it replaced), in this worker process
_started: dict[str, tuple[float, Mapping[str, Any]]] = {}


def on_before_publish(headers: dict[str, Any] | None = None, **_: Any) -> None:
    request_id = request_id_current()
    if request_id and headers is not None and CELERY_HEADER not in headers:
        headers[CELERY_HEADER] = request_id


def on_prerun(task_id: str = "", task: Any = None, **_: Any) -> None:
    """Bind the task's context. What was bound before comes back at postrun: a task run
    in-process (eager, in development) must not wipe the request's context."""
    request = getattr(task, "request", None)
    fields = {
        "request_id": getattr(request, CELERY_HEADER, None),
        "task": getattr(task, "name", None),
        "task_id": task_id,
        "workspace": getattr(request, "_schema_name", None),
    }
    tokens = structlog.contextvars.bind_contextvars(**{k: v for k, v in fields.items() if v})
    _started[task_id] = (time.perf_counter(), tokens)


def on_postrun(task_id: str = "", task: Any = None, state: str | None = None, **_: Any) -> None:
    entry = _started.pop(task_id, None)
    if entry is None:
        return
    started, tokens = entry
    outcome = (state or "unknown").lower()
    elapsed = time.perf_counter() - started
    CELERY_TASK_DURATION.labels(getattr(task, "name", "unknown"), outcome).observe(elapsed)
    task_log.info("task finished", outcome=outcome, duration_ms=round(elapsed * 1000, 1))
    structlog.contextvars.reset_contextvars(**tokens)


def connect() -> None:
    signals.before_task_publish.connect(on_before_publish, weak=False, dispatch_uid="obs.before_publish")
    signals.task_prerun.connect(on_prerun, weak=False, dispatch_uid="obs.task_prerun")
    signals.task_postrun.connect(on_postrun, weak=False, dispatch_uid="obs.task_postrun")
    signals.worker_ready.connect(on_worker_ready, weak=False, dispatch_uid="obs.worker_ready")
