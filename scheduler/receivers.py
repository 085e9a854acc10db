"""Celery's signals turned into the runs of periodic jobs (``TaskRun``).

A task is a periodic job's run when its message carries the ``periodic_task_name`` header:
django-celery-beat adds it to everything beat sends, and "run now" adds it too. Tasks sent
any other way are not recorded. The receivers run where the task runs: in the worker, or
in the web process when tasks run in-process (no broker). A recording that fails (the
database is down) is logged and never fails the task itself.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import signals
from django_tenants.utils import get_public_schema_name

from saas.tenant_connection import connection

from . import services

logger = logging.getLogger(__name__)


def _header(task: Any, name: str) -> Any:
    request = getattr(task, "request", None)
    if request is None:
        return None
    # Custom headers are merged into the request on a worker; in-process they stay in
    # ``request.headers`` (the same lookup tenant-schemas-celery makes for its schema).
    headers = getattr(request, "headers", None) or {}
    if name in headers:
        return headers[name]
    return getattr(request, name, None)


def _job_name(task: Any) -> str | None:
    name = _header(task, services.HEADER)
    return str(name) if name else None


def on_prerun(sender: Any = None, task_id: str | None = None, task: Any = None, **_: Any) -> None:
    name = _job_name(task)
    if name is None or task_id is None:
        return
    try:
        services.task_run_started(
            entry_name=name,
            task=str(task.name),
            task_id=task_id,
            run_now=bool(_header(task, services.RUN_NOW_HEADER)),
            worker=str(getattr(task.request, "hostname", "") or ""),
        )
    except Exception:  # recording a run never fails the job
        logger.exception("scheduler: could not record the start of %s", name)


def on_failure(
    sender: Any = None,
    task_id: str | None = None,
    exception: BaseException | None = None,
    einfo: Any = None,
    **_: Any,
) -> None:
    if _job_name(sender) is None or task_id is None or exception is None:
        return
    try:
        services.task_run_failed(task_id=task_id, error=exception, tb=getattr(einfo, "tb", None))
    except Exception:  # recording a run never fails the job
        logger.exception("scheduler: could not record the failure of %s", task_id)


def on_postrun(
    sender: Any = None,
    task_id: str | None = None,
    task: Any = None,
    retval: Any = None,
    state: str | None = None,
    **_: Any,
) -> None:
    if _job_name(task) is None or task_id is None:
        return
    try:
        services.task_run_finished(
            task_id=task_id, succeeded=state == "SUCCESS", result=retval, state=str(state)
        )
    except Exception:  # recording a run never fails the job
        logger.exception("scheduler: could not record the end of %s", task_id)


def after_migrate(using: str = "default", **_: Any) -> None:
    """After ``migrate`` of the public schema (a deploy's migration job, ``make run``), the
    declared jobs missing from the database are created, so the scheduler page lists them
    before beat first starts (and where no beat runs: tasks in-process)."""
    if connection.schema_name != get_public_schema_name():
        return  # a tenant schema: the jobs live in public only
    services.schedules_sync()


def connect() -> None:
    signals.task_prerun.connect(on_prerun, weak=False, dispatch_uid="scheduler.task_prerun")
    signals.task_failure.connect(on_failure, weak=False, dispatch_uid="scheduler.task_failure")
    signals.task_postrun.connect(on_postrun, weak=False, dispatch_uid="scheduler.task_postrun")
