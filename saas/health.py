"""Liveness and readiness probes, answered for any Host before tenant routing.

``/healthz``: the process answers. ``/readyz``: the database is reachable and every
migration is applied; Redis and the Celery broker answer when configured; with a broker,
at least one Celery worker and the beat have a live heartbeat (``saas.heartbeats``). JSON, no auth,
no secrets: each check reports only ``ok``, ``degraded`` or ``error`` (details go to the log).

The web serves without Redis (the cache falls back to the process, realtime to polling,
tasks to the outbox: docs/deployment.md), so a Redis or broker outage reports ``degraded``
and keeps the answer 200; so do stopped workers or a stopped beat (their own probes restart
them: a web pod taken out of service would not bring a worker back). Only the database
makes it 503, and so does a process that received SIGTERM (the check ``draining``,
``saas.shutdown``): the balancer stops sending it new requests while it finishes the ones
it has. Each check logs one line when its state changes, not one per probe.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.db.migrations.loader import MigrationLoader
from django.http import HttpRequest, HttpResponseBase, JsonResponse

from . import heartbeats, shutdown
from .dependency_state import describe, state_changed
from .tenant_connection import connection

logger = logging.getLogger(__name__)

_PROBE_TIMEOUT_S = 1.0


@functools.cache
def _expected_migrations() -> frozenset[tuple[str, str]]:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return frozenset(loader.graph.nodes)


def check_database() -> str:
    try:
        connection.set_schema_to_public()
        with connection.cursor() as cursor:
            cursor.execute("SELECT app, name FROM django_migrations")
            applied = set(cursor.fetchall())
    except Exception as exc:  # any failure: not ready; logged once per state change
        state_changed("database", False, describe(exc))
        return "error"
    state_changed("database", True)
    missing = _expected_migrations() - applied
    if missing:
        logger.warning("readyz: %d migration(s) not applied, e.g. %s", len(missing), sorted(missing)[0])
        return "error"
    return "ok"


def check_redis() -> str:
    # Only probes with Redis configured load its client.
    import redis

    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=_PROBE_TIMEOUT_S, socket_timeout=_PROBE_TIMEOUT_S
    )
    try:
        client.ping()
    finally:
        client.close()
    return "ok"


def check_broker() -> str:
    # Only probes with a separate broker configured load kombu's connection.
    from kombu import Connection

    with Connection(settings.CELERY_BROKER_URL, connect_timeout=_PROBE_TIMEOUT_S) as conn:
        # kombu waits a float number of seconds; celery-types' stub says int.
        conn.ensure_connection(max_retries=1, timeout=_PROBE_TIMEOUT_S)  # type: ignore[arg-type]
    return "ok"


def check_workers() -> str:
    """At least one worker's heartbeat is live (each worker renews it every few seconds)."""
    return "ok" if heartbeats.alive("worker") else "degraded"


def check_beat() -> str:
    """Beat renewed its heartbeat on a recent tick."""
    return "ok" if heartbeats.alive("beat") else "degraded"


# Checks whose failure leaves the web able to serve: they report "degraded".
OPTIONAL_CHECKS = frozenset({"redis", "broker", "workers", "beat"})
# The last state of each check in this process, so a change is logged once.
_last_state: dict[str, str] = {}


def _record(name: str, state: str, error: BaseException | None) -> None:
    previous = _last_state.get(name, "ok")
    _last_state[name] = state
    if state == previous:
        return
    if state == "ok":
        logger.warning("readyz: %s is back (was %s)", name, previous)
    else:
        reason = f"{type(error).__name__}: {error}" if error is not None else "see above"
        logger.warning("readyz: %s is %s (%s)", name, state, reason)


def readiness() -> tuple[bool, dict[str, str]]:
    # A process on its way out (SIGTERM) is out of service whatever else holds; nothing
    # else is asked of it.
    if shutdown.draining():
        return False, {"draining": "error"}
    checks = {"database": check_database}
    if settings.REDIS_URL:
        checks["redis"] = check_redis
    if not settings.CELERY_TASK_ALWAYS_EAGER and settings.CELERY_BROKER_URL != settings.REDIS_URL:
        checks["broker"] = check_broker
    if heartbeats.store_configured():
        checks["workers"] = check_workers
        checks["beat"] = check_beat
    results: dict[str, str] = {}
    for name, check in checks.items():
        error: BaseException | None = None
        try:
            results[name] = check()
        except Exception as exc:  # a probe reports, it never raises
            error = exc
            results[name] = "degraded" if name in OPTIONAL_CHECKS else "error"
        _record(name, results[name], error)
    return all(v != "error" for v in results.values()), results


def overall(ok: bool, checks: dict[str, str]) -> str:
    if not ok:
        return "error"
    return "ok" if all(v == "ok" for v in checks.values()) else "degraded"


class HealthCheckMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        path = request.path_info.rstrip("/")
        if path == "/healthz":
            return _no_store(JsonResponse({"status": "ok"}))
        if path == "/readyz":
            started = time.perf_counter()
            ok, checks = readiness()
            body = {
                "status": overall(ok, checks),
                "checks": checks,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            }
            response = _no_store(JsonResponse(body, status=200 if ok else 503))
            # Not one "Service Unavailable: /readyz" line per probe: each check logs its
            # own state changes.
            response._has_been_logged = True  # type: ignore[attr-defined]
            return response
        return self.get_response(request)


def _no_store(response: JsonResponse) -> JsonResponse:
    response["Cache-Control"] = "no-store"
    return response
