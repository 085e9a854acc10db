"""Heartbeats of the Celery workers and of beat, kept in Redis for ``/readyz``.

Each worker writes ``saas:heartbeat:worker:<hostname>`` every ``WORKER_HEARTBEAT_SECONDS``
with a time to live of three intervals; beat writes ``saas:heartbeat:beat`` on its ticks with
a time to live of ``BEAT_HEARTBEAT_MAX_AGE``. A key that exists is a process that beat
recently: a stopped or stuck one lets its key expire. The web reads them (``alive``) to
report ``workers`` and ``beat``; the worker's own liveness probe reads a file instead
(``scheduler.probe``), so a worker never depends on Redis to be judged alive.

Without Redis (no ``REDIS_URL`` and no ``redis://`` broker) tasks run in-process: there is
no worker or beat to watch, and ``store_configured()`` is false.
"""

from __future__ import annotations

import functools
import time

import redis
from django.conf import settings

PREFIX = "saas:heartbeat:"
_TIMEOUT_S = 1.0


def store_url() -> str:
    """The Redis the heartbeats live in: ``REDIS_URL``, else a Redis broker, else none."""
    if settings.REDIS_URL:
        return str(settings.REDIS_URL)
    broker = str(settings.CELERY_BROKER_URL or "")
    return broker if broker.startswith(("redis://", "rediss://")) else ""


def store_configured() -> bool:
    return bool(store_url()) and not settings.CELERY_TASK_ALWAYS_EAGER


@functools.cache
def _client(url: str) -> redis.Redis:
    # One client (and connection pool) per process and URL.
    return redis.Redis.from_url(url, socket_connect_timeout=_TIMEOUT_S, socket_timeout=_TIMEOUT_S)


def _key(kind: str, name: str = "") -> str:
    return f"{PREFIX}{kind}:{name}" if name else f"{PREFIX}{kind}"


def beat_write(kind: str, *, name: str = "", ttl_seconds: int) -> None:
    """Record that the ``kind`` process (``worker`` with its host name, or ``beat``) is alive."""
    url = store_url()
    if url:
        _client(url).set(_key(kind, name), f"{time.time():.3f}", ex=max(1, int(ttl_seconds)))


def beat_forget(kind: str, *, name: str = "") -> None:
    """A process that stops cleanly says so at once instead of waiting for its key to expire."""
    url = store_url()
    if url:
        _client(url).delete(_key(kind, name))


def alive(kind: str) -> dict[str, float]:
    """The processes of ``kind`` whose heartbeat has not expired: name -> last beat (epoch s).
    Raises the client's error when Redis does not answer."""
    client = _client(store_url())
    if kind == "beat":
        value = client.get(_key("beat"))
        return {} if value is None else {"beat": float(value)}
    found: dict[str, float] = {}
    prefix = _key(kind, "")
    for key in client.scan_iter(match=f"{prefix}:*", count=100):
        value = client.get(key)
        if value is not None:
            name = key.decode() if isinstance(key, bytes) else str(key)
            found[name.removeprefix(f"{prefix}:")] = float(value)
    return found
