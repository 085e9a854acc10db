"""PostgreSQL unreachable: every endpoint answers 503 ``service_unavailable`` with
``Retry-After``, one log line per state change, and the next request after the database
returns works again (connections are opened per request, or borrowed from the pool, which
replaces broken ones).

"Unreachable" is a connection that cannot be made or was lost, not a query's own fault
(:func:`is_database_unavailable`); a deadlock or a constraint violation stays what it is.
The failure is answered wherever it surfaces:

* in a view: :class:`DatabaseOutageMiddleware` (``process_exception``);
* in a DRF view: :func:`api_exception_handler`, so the widget API's CORS headers stay on;
* in a middleware (host resolution, the session): Django turns it into ``handler500``,
  which is :func:`handler500` here;
* in a streamed answer: :func:`stream_until_outage` ends the stream with a last event;
* at a WebSocket's connect: ``tenants.asgi`` closes it with 1013 (try again later).

While the database is taken as down, a request waits at most ``OUTAGE_POOL_TIMEOUT_S``
for a pooled connection (the database backend, ``saas.postgresql_backend``), not the
pool's whole timeout (``DATABASE_POOL_TIMEOUT``, sized for a busy pool): its 503 comes at
once. Requests that need no query (a widget's cached configuration) are served throughout.

A friendly page for browsers (``templates/503.html``), problem details for API clients.
None of these answers logs a line of its own: :mod:`saas.dependency_state` logs
"database unreachable" once, and "database reachable again" at the next connection made
(``connection_created``) that answers. Elsewhere (a Celery task, a periodic job) an
exception logged because the database is unreachable is that same state line instead of a
traceback (:class:`OutageLogFilter`, on the console's and Celery's log handlers).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import psycopg
from celery.signals import after_setup_logger, after_setup_task_logger
from django.db import InterfaceError as DjangoInterfaceError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.utils.cache import patch_vary_headers
from psycopg_pool import PoolClosed

from . import errors
from .dependency_state import describe, is_down, state_changed

DATABASE = "database"
RETRY_AFTER_S = 5
# While the database is taken as down, a request waits at most this long for a pooled
# connection (saas.postgresql_backend), not the pool's whole timeout.
OUTAGE_POOL_TIMEOUT_S = 1.0

# SQLSTATE classes and codes that say the server cannot serve this connection now:
# connection exceptions (08...), shutdowns and "cannot connect now" (57P01-57P03), too many
# connections (53300).
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")


def is_database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps: Django re-raises the driver's errors) says the
    database cannot be reached: no connection, a lost one, or the pool has none to lend
    (``PoolTimeout`` is an ``OperationalError`` of its own)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, PoolClosed | psycopg.InterfaceError | DjangoInterfaceError):
            return True
        if isinstance(current, psycopg.OperationalError):
            sqlstate = current.sqlstate
            return sqlstate is None or sqlstate.startswith(_UNAVAILABLE_SQLSTATES)
        current = current.__cause__ or current.__context__
    return False


def note_outage(exc: BaseException) -> None:
    """Record the failure (one log line when the database was taken as reachable)."""
    state_changed(DATABASE, False, describe(exc))


def outage_error() -> errors.ServiceUnavailable:
    return errors.ServiceUnavailable(
        "The service is briefly unavailable. Try again in a few seconds.",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def _quiet(response: HttpResponse) -> HttpResponse:
    # Django logs every 5xx answer ("Service Unavailable: /path", with the traceback when
    # it came from an exception); the state change was logged once instead.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


# Called from other sites' pages without credentials: an outage answer there may be read by
# any origin (it says nothing private, and the widget's allowed origins are in the database
# that cannot be reached), so the widget can tell "try again later" from a network failure.
_CROSS_ORIGIN_PREFIXES = ("/api/widget/",)


def outage_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """503 for ``request``: problem details, or the friendly page for a browser."""
    note_outage(exc)
    response = errors.error_response(request, outage_error(), template="503.html")
    origin = request.headers.get("Origin")
    if (
        origin
        and request.path.startswith(_CROSS_ORIGIN_PREFIXES)
        and "Access-Control-Allow-Origin" not in response
    ):
        response["Access-Control-Allow-Origin"] = origin
        patch_vary_headers(response, ["Origin"])
    return _quiet(response)


def handler500(request: HttpRequest) -> HttpResponse:
    """The URL confs' ``handler500``: a middleware's (or Django's) exception lands here,
    still being handled; an unreachable database answers 503, anything else 500."""
    exc = sys.exc_info()[1]
    if exc is not None and is_database_unavailable(exc):
        return outage_response(request, exc)
    return errors.handler500(request)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> JsonResponse | None:
    """DRF ``EXCEPTION_HANDLER``: :func:`saas.errors.api_exception_handler`, and 503 when
    the database is unreachable."""
    if is_database_unavailable(exc):
        note_outage(exc)
        response = errors.problem_response(outage_error())
        _quiet(response)
        return response
    return errors.api_exception_handler(exc, context)


async def stream_until_outage(
    body: AsyncIterator[bytes], farewell: Callable[[dict[str, Any]], bytes]
) -> AsyncIterator[bytes]:
    """``body``, ended by ``farewell(problem)`` instead of an exception when the database
    goes away while it streams (the response has started: no status can change)."""
    try:
        async for chunk in body:
            yield chunk
    except Exception as exc:
        if not is_database_unavailable(exc):
            raise
        note_outage(exc)
        yield farewell(outage_error().as_problem())
    finally:
        aclose = getattr(body, "aclose", None)  # a generator left early runs its cleanup now
        if aclose is not None:
            await aclose()


class OutageLogFilter(logging.Filter):
    """On the log handlers (the console's, Celery's): a record whose exception says the
    database is unreachable (a task failing in an outage, a periodic job's per-workspace
    error) becomes the state line instead (:func:`note_outage`, logged once per change),
    not a traceback each. Every other record passes unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None or not is_database_unavailable(exc):
            return True
        note_outage(exc)
        return False


def _filter_celery_handlers(logger: logging.Logger, **kwargs: Any) -> None:
    """A Celery worker sets up its own handlers (it takes over the root logger): they get
    the filter too."""
    for handler in logger.handlers:
        if not any(isinstance(f, OutageLogFilter) for f in handler.filters):
            handler.addFilter(OutageLogFilter())


after_setup_logger.connect(_filter_celery_handlers, dispatch_uid="saas.database_outage.logger")
after_setup_task_logger.connect(_filter_celery_handlers, dispatch_uid="saas.database_outage.task_logger")


def _connected(sender: object, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """A connection was made, or lent by the pool. While the database is taken as down,
    only one that answers counts (the pool lends connections that died with the outage);
    otherwise this costs nothing."""
    if is_down(DATABASE) and not connection.is_usable():
        return
    state_changed(DATABASE, True)


# At import: the URL confs, the DRF settings and the middleware list name this module, so
# every web process loads it before its first request.
connection_created.connect(_connected, dispatch_uid="saas.database_outage")


class DatabaseOutageMiddleware:
    """First after the health probes: a view's unreachable database answers 503."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_database_unavailable(exception):
            return outage_response(request, exception)
        return None
