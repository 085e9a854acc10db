"""The Celery app. Tasks carry the schema they were sent from (tenant-schemas-celery).

Sending a task while tenant A's schema is active puts ``_schema_name`` in the task headers;
the worker switches to that schema before the task body runs and back afterwards. A task
sent from the public schema runs in public.

Without a broker (no ``REDIS_URL``/``CELERY_BROKER_URL``) tasks run eagerly in-process.

When the broker refuses a task (Redis down), ``enqueue_on_commit`` stores it in the
outbox (``saas.outbox``) and a beat job sends it once the broker answers: the work is
not lost. Publishing retries little (``CELERY_TASK_PUBLISH_RETRY_POLICY``), so a request
does not hang on a dead broker.
"""

from __future__ import annotations

import contextvars
import logging
import os
import threading
from typing import TYPE_CHECKING, Any

from django.db import connections, transaction
from tenant_schemas_celery.app import CeleryApp

from .tenant_connection import connection

if TYPE_CHECKING:
    from celery import Task

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas.settings.local")

logger = logging.getLogger(__name__)

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
            # In the caller's context: the task's log lines keep the request's id.
            context = contextvars.copy_context()
            threading.Thread(
                target=context.run, args=(_run_here, task, schema, args, kwargs), daemon=True
            ).start()
        else:
            publish(task, schema, args, kwargs)

    transaction.on_commit(send)


class _BrokerState:
    """Whether the last publish of this process failed: one log line per change."""

    down = False


def publish(
    task: Task[Any, Any],
    schema: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    countdown: float = 0,
) -> None:
    """Hand the task to the broker (to run ``countdown`` s from now); if it
    refuses, keep the task in the outbox (which sends it at once when the broker returns)."""
    try:
        # Nobody waits for the result of work queued this way: not subscribing to it also
        # spares the publish the result backend's round trip (and its retries).
        task.apply_async(
            args=args,
            kwargs=kwargs,
            headers={"_schema_name": schema},
            ignore_result=True,
            countdown=countdown,
        )
    except Exception as error:  # any refusal (connection, timeout, result backend) keeps the work
        if not _BrokerState.down:
            _BrokerState.down = True
            logger.warning(
                "celery: broker refused %s (%s: %s); tasks go to the outbox until it answers",
                task.name,
                type(error).__name__,
                error,
            )
        _keep(task.name, schema, list(args), kwargs, error)
        return
    if _BrokerState.down:
        _BrokerState.down = False
        logger.warning("celery: broker answers again")


def _keep(name: str, schema: str, args: list[Any], kwargs: dict[str, Any], error: BaseException) -> None:
    # The outbox's models load after the app registry, and this module is imported with
    # the saas package, before settings are configured.
    from saas.outbox.services import outbox_store

    try:
        outbox_store(task_name=name, args=args, kwargs=kwargs, schema_name=schema, error=error)
    except Exception as store_error:  # the database is down too: nothing left to keep it in
        logger.error("celery: task %s lost: broker and database both unreachable (%s)", name, store_error)


def _run_here(task: Task[Any, Any], schema: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    # django_tenants.utils reads settings when imported, and this module is imported with
    # the saas package, before settings are configured.
    from django_tenants.utils import schema_context

    try:
        with schema_context(schema):
            task.apply(args=args, kwargs=kwargs, headers={"_schema_name": schema})
    finally:
        connections.close_all()
