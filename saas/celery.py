"""The Celery app. Tasks carry the schema they were sent from (tenant-schemas-celery).

Sending a task while tenant A's schema is active puts ``_schema_name`` in the task headers;
the worker switches to that schema before the task body runs and back afterwards. A task
sent from the public schema runs in public.

Without a broker (no ``REDIS_URL``/``CELERY_BROKER_URL``) tasks run eagerly in-process.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from django.db import connections, transaction
from tenant_schemas_celery.app import CeleryApp

from .tenant_connection import connection

if TYPE_CHECKING:
    from celery import Task

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas.settings.local")

app = CeleryApp("saas")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def enqueue_on_commit(task: Task[Any, Any], *args: Any, **kwargs: Any) -> None:
    """Queue ``task`` once the current transaction commits (at once outside one).

    The task runs in the schema active now, at the call, even if the commit happens after
    the caller has left that schema. In-process mode runs the task in a daemon thread so a
    request never waits for background work (e.g. refilling the schema pool).
    """
    schema = connection.schema_name

    def send() -> None:
        if app.conf.task_always_eager:
            threading.Thread(target=_run_here, args=(task, schema, args, kwargs), daemon=True).start()
        else:
            task.apply_async(args=args, kwargs=kwargs, headers={"_schema_name": schema})

    transaction.on_commit(send)


def _run_here(task: Task[Any, Any], schema: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    # django_tenants.utils reads settings when imported, and this module is imported with
    # the saas package, before settings are configured.
    from django_tenants.utils import schema_context

    try:
        with schema_context(schema):
            task.apply(args=args, kwargs=kwargs, headers={"_schema_name": schema})
    finally:
        connections.close_all()
