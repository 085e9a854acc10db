"""A Redis cache that degrades instead of failing when Redis is unreachable.

Django's ``RedisCache`` raises on a dead server, so one stopped Redis turned every request
that reads the cache into a 500. ``ResilientRedisCache`` catches the connection errors and
serves the call from a small store in this process instead:

* reads find only what this process wrote during the outage (a miss otherwise: callers load
  from the database, as on any miss);
* writes land in that store (bounded, with their timeouts), so claims (``add``), locks and
  counters (``incr``: the rate limits) keep working, per process;
* after a failure Redis is not asked again for ``RETRY_SECONDS`` (a request never waits on a
  dead server more than once per interval), then one call probes it;
* one warning when Redis goes away, one when it answers again (per process and server),
  never a traceback per call.

When Redis answers again, what the outage changed is reconciled before the store is
dropped: keys deleted or overwritten here are deleted in Redis (so no invalidation is
lost: a widget changed during the outage is not served stale afterwards), and counters
and claims taken here are handed over (``add`` with their remaining time, or ``incr`` by
the local count when Redis has the key: rate-limit hits and cache version bumps add up).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Final, TypeVar, cast
from urllib.parse import urlsplit

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

# What "Redis is unreachable" looks like (a replica promoted under us refuses writes).
UNREACHABLE: Final = (RedisConnectionError, RedisTimeoutError, ReadOnlyError, OSError)
RETRY_SECONDS: Final = 3.0
LOCAL_MAX_ENTRIES: Final = 10_000

T = TypeVar("T")

# What the outage did to a key, for the reconciliation: counted (add/incr) or forgotten.
COUNTED, FORGOTTEN = "counted", "forgotten"


class LocalStore:
    """A small thread-safe key -> value store with expiry, on raw (already made) keys."""

    def __init__(self, max_entries: int = LOCAL_MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._data: dict[str, tuple[Any, float | None]] = {}

    def _live(self, key: str, now: float) -> tuple[Any, float | None] | None:
        entry = self._data.get(key)
        if entry is not None and entry[1] is not None and entry[1] <= now:
            del self._data[key]
            return None
        return entry

    def _put(self, key: str, value: Any, timeout: float | None, now: float) -> None:
        if timeout is not None and timeout <= 0:
            self._data.pop(key, None)
            return
        self._data.pop(key, None)
        if len(self._data) >= self.max_entries:
            self._prune(now)
        self._data[key] = (value, None if timeout is None else now + timeout)

    def _prune(self, now: float) -> None:
        for key in [k for k, (_, exp) in self._data.items() if exp is not None and exp <= now]:
            del self._data[key]
        while len(self._data) >= self.max_entries:  # the oldest written go first
            del self._data[next(iter(self._data))]

    def add(self, key: str, value: Any, timeout: float | None) -> bool:
        with self._lock:
            now = time.monotonic()
            if self._live(key, now) is not None:
                return False
            self._put(key, value, timeout, now)
            return timeout is None or timeout > 0

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            entry = self._live(key, time.monotonic())
            return default if entry is None else entry[0]

    def set(self, key: str, value: Any, timeout: float | None) -> None:
        with self._lock:
            self._put(key, value, timeout, time.monotonic())

    def touch(self, key: str, timeout: float | None) -> bool:
        with self._lock:
            now = time.monotonic()
            entry = self._live(key, now)
            if entry is None:
                return False
            self._put(key, entry[0], timeout, now)
            return True

    def delete(self, key: str) -> bool:
        with self._lock:
            return self._data.pop(key, None) is not None

    def incr(self, key: Any, delta: int) -> Any:
        with self._lock:
            now = time.monotonic()
            entry = self._live(key, now)
            if entry is None:
                raise ValueError(f"Key '{key}' not found.")
            value = entry[0] + delta
            self._data[key] = (value, entry[1])
            return int(value)

    def drain(self) -> None:
        with self._lock:
            self._data = {}

    def items(self) -> dict[str, tuple[Any, float | None]]:
        """Everything still live, with its remaining seconds."""
        with self._lock:
            now = time.monotonic()
            data = dict(self._data)
        return {
            key: (value, None if exp is None else exp - now)
            for key, (value, exp) in data.items()
            if exp is None or exp > now
        }


class Outage:
    """Whether one Redis server is reachable, for this process; the fallback store and
    what the outage changed."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.store = LocalStore()
        self.lock = threading.Lock()
        self.down = False
        self.since = 0.0
        self.retry_at = 0.0
        self.changed: dict[str, str] = {}

    def should_try(self) -> bool:
        """Up, or the back-off is over (then this caller probes; the others keep waiting)."""
        if not self.down:
            return True
        with self.lock:
            now = time.monotonic()
            if now < self.retry_at:
                return False
            self.retry_at = now + RETRY_SECONDS
            return True

    def failed(self, error: BaseException) -> None:
        with self.lock:
            self.retry_at = time.monotonic() + RETRY_SECONDS
            if self.down:
                return
            self.down, self.since = True, time.monotonic()
        logger.warning(
            "cache: Redis %s unreachable (%s: %s); serving from this process's fallback store",
            self.name,
            type(error).__name__,
            error,
        )

    def note(self, keys: Iterable[str], what: str) -> None:
        with self.lock:
            for key in keys:
                if len(self.changed) < LOCAL_MAX_ENTRIES or key in self.changed:
                    # A key forgotten after being counted (a claim released) stays forgotten.
                    self.changed[key] = what

    def snapshot(self) -> tuple[dict[str, str], dict[str, tuple[Any, float | None]]]:
        with self.lock:
            changed = dict(self.changed)
        return changed, self.store.items()

    def recovered(self, reconciled: int) -> None:
        with self.lock:
            if not self.down:
                return
            self.down = False
            self.changed = {}
            seconds = time.monotonic() - self.since
        self.store.drain()
        logger.warning(
            "cache: Redis %s answers again after %.0f s; %d key(s) reconciled",
            self.name,
            seconds,
            reconciled,
        )


_outages: dict[str, Outage] = {}
_outages_lock = threading.Lock()


def outage_for(servers: list[str]) -> Outage:
    """One state per server list, shared by every cache alias and thread using it."""
    key = ",".join(servers)
    with _outages_lock:
        if key not in _outages:
            _outages[key] = Outage(",".join(_public_name(s) for s in servers))
        return _outages[key]


def _public_name(url: str) -> str:
    """host:port/db, without the credentials a URL may carry."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 6379}{parts.path or ''}"


class ResilientRedisCacheClient(RedisCacheClient):
    def __init__(self, servers: list[str], **options: Any) -> None:
        super().__init__(servers, **options)
        self.outage = outage_for(servers)

    def _call(self, on_redis: Callable[[], T], on_local: Callable[[], T]) -> T:
        outage = self.outage
        if outage.should_try():
            try:
                if outage.down:  # the probe: reconcile first, so no call reads what is stale
                    self._reconcile()
                return on_redis()
            except UNREACHABLE as error:
                outage.failed(error)
        return on_local()

    def _changing(
        self, keys: Iterable[str], what: str, on_redis: Callable[[], T], on_local: Callable[[], T]
    ) -> T:
        def local() -> T:
            self.outage.note(list(keys), what)
            return on_local()

        return self._call(on_redis, local)

    def _reconcile(self) -> None:
        """Hand what the outage changed to Redis (raises if Redis is still unreachable)."""
        changed, values = self.outage.snapshot()
        self.get_client(None, write=True).ping()
        self._hand_over(changed, values)
        self.outage.recovered(len(changed))

    def _hand_over(self, changed: dict[str, str], values: dict[str, tuple[Any, float | None]]) -> None:
        client = self.get_client(None, write=True)
        forgotten = [key for key, what in changed.items() if what == FORGOTTEN]
        if forgotten:
            client.delete(*forgotten)
        for key, what in changed.items():
            if what != COUNTED or key not in values:
                continue
            value, left = values[key]
            ttl = None if left is None else max(1, int(left))
            if client.set(key, cast(Any, self)._serializer.dumps(value), ex=ttl, nx=True):
                continue
            try:
                if type(value) is int:
                    client.incrby(key, value)
            except ResponseError:  # Redis holds something else there: nothing to add to
                client.delete(key)

    def add(self, key: Any, value: Any, timeout: Any) -> bool:
        return self._changing(
            [key],
            COUNTED,
            lambda: super(ResilientRedisCacheClient, self).add(key, value, timeout),
            lambda: self.outage.store.add(key, value, timeout),
        )

    def get(self, key: Any, default: Any) -> Any:
        return self._call(
            lambda: super(ResilientRedisCacheClient, self).get(key, default),
            lambda: self.outage.store.get(key, default),
        )

    def set(self, key: Any, value: Any, timeout: Any) -> None:
        self._changing(
            [key],
            FORGOTTEN,
            lambda: super(ResilientRedisCacheClient, self).set(key, value, timeout),
            lambda: self.outage.store.set(key, value, timeout),
        )

    def touch(self, key: Any, timeout: Any) -> bool:
        return self._call(
            lambda: super(ResilientRedisCacheClient, self).touch(key, timeout),
            lambda: self.outage.store.touch(key, timeout),
        )

    def delete(self, key: Any) -> bool:
        return self._changing(
            [key],
            FORGOTTEN,
            lambda: super(ResilientRedisCacheClient, self).delete(key),
            lambda: self.outage.store.delete(key),
        )

    def get_many(self, keys: Any) -> dict[Any, Any]:
        missing = object()

        def local() -> dict[Any, Any]:
            found = {key: self.outage.store.get(key, missing) for key in keys}
            return {key: value for key, value in found.items() if value is not missing}

        return self._call(lambda: super(ResilientRedisCacheClient, self).get_many(keys), local)

    def has_key(self, key: Any) -> bool:
        missing = object()
        return self._call(
            lambda: super(ResilientRedisCacheClient, self).has_key(key),
            lambda: self.outage.store.get(key, missing) is not missing,
        )

    def incr(self, key: Any, delta: int) -> Any:
        return self._changing(
            [key],
            COUNTED,
            lambda: super(ResilientRedisCacheClient, self).incr(key, delta),
            lambda: self.outage.store.incr(key, delta),
        )

    def set_many(self, data: Any, timeout: Any) -> None:
        def local() -> None:
            for key, value in data.items():
                self.outage.store.set(key, value, timeout)

        self._changing(
            data, FORGOTTEN, lambda: super(ResilientRedisCacheClient, self).set_many(data, timeout), local
        )

    def delete_many(self, keys: Any) -> None:
        def local() -> None:
            for key in keys:
                self.outage.store.delete(key)

        self._changing(
            keys, FORGOTTEN, lambda: super(ResilientRedisCacheClient, self).delete_many(keys), local
        )

    def clear(self) -> bool:
        def local() -> bool:
            self.outage.store.drain()
            return False  # Redis keeps its keys

        return self._call(lambda: super(ResilientRedisCacheClient, self).clear(), local)


class ResilientRedisCache(RedisCache):
    """``RedisCache`` with the fallback above; configured like it (``CACHES`` in settings)."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = ResilientRedisCacheClient
