"""The Redis cache survives a stopped Redis: reads miss or find what this process wrote,
claims and counters work per process, one log line per state change, and what the outage
changed is handed to Redis when it answers again."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from saas import cache_backends
from saas.cache_backends import ResilientRedisCache
from tests.redis_server import RedisServer


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    if not RedisServer.available():
        pytest.skip("NOTICE: redis-server is not installed")
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def cache(redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> ResilientRedisCache:
    monkeypatch.setattr(cache_backends, "_outages", {})  # a fresh state per test
    options = {"socket_connect_timeout": 1, "socket_timeout": 1}
    return ResilientRedisCache(redis_server.url(), {"KEY_PREFIX": "t", "OPTIONS": options})


def _probe_now(cache: ResilientRedisCache) -> None:
    """End the back-off: the next call asks Redis again."""
    cache._cache.outage.retry_at = 0.0


def _messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "saas.cache_backends"]


def test_calls_fall_back_while_redis_is_down(cache, redis_server, caplog):
    caplog.set_level(logging.WARNING, logger="saas.cache_backends")
    cache.set("widget", "cached before")
    redis_server.stop()

    assert cache.get("widget") is None  # a miss: the caller loads from the database
    cache.set("widget", "loaded again", 60)
    assert cache.get("widget") == "loaded again"  # served from this process
    assert cache.get_many(["widget", "other"]) == {"widget": "loaded again"}
    assert cache.has_key("widget")
    # Claims still exclude: one holder per key (per process during the outage).
    assert cache.add("claim:1", 1, 60) is True
    assert cache.add("claim:1", 1, 60) is False
    assert cache.incr("claim:1") == 2
    with pytest.raises(ValueError):
        cache.incr("never-added")
    assert cache.delete("widget") is True
    assert cache.get("widget") is None

    lines = _messages(caplog)
    assert len(lines) == 1 and "unreachable" in lines[0]
    assert all(r.exc_info is None for r in caplog.records)


def test_redis_is_not_asked_again_during_the_back_off(cache, redis_server):
    cache.set("k", "in redis")
    redis_server.stop()
    assert cache.get("k") is None
    redis_server.start()  # a fresh, empty server on the same port
    redis_server.client().set("t:1:k", b"x")  # as if another process wrote it
    assert cache.get("k") is None  # still backing off: Redis was not asked
    _probe_now(cache)
    cache.set("k", "in redis again")
    assert redis_server.client().exists("t:1:k")


def test_recovery_hands_over_what_the_outage_changed(cache, redis_server, caplog):
    caplog.set_level(logging.WARNING, logger="saas.cache_backends")
    redis_server.stop()
    assert cache.get("x") is None  # notices the outage
    redis_server.start()
    outside = redis_server.client()
    outside.set("t:1:stale", b"old value")  # written before the outage, say
    outside.set("t:1:hits", 5)  # a counter other processes kept in Redis

    # During the outage (back-off still running): an invalidation, a claim, counted hits.
    cache.delete("stale")
    assert cache.add("claim:7", 1, 300)
    assert cache.add("hits", 1, 60)  # as the rate limiter counts: add, then incr
    cache.incr("hits")
    cache.incr("hits")
    assert outside.get("t:1:stale") == b"old value"

    _probe_now(cache)
    assert cache.get("stale") is None  # the invalidation reached Redis before any read
    assert outside.get("t:1:stale") is None
    assert outside.exists("t:1:claim:7") and 0 < outside.ttl("t:1:claim:7") <= 300
    assert int(outside.get("t:1:hits")) == 5 + 3  # the local hits are added
    assert cache.add("claim:7", 1, 300) is False  # the claim still holds, now in Redis
    lines = _messages(caplog)
    assert len(lines) == 2 and "answers again" in lines[1]


def test_the_fallback_store_is_bounded():
    store = cache_backends.LocalStore(max_entries=3)
    for n in range(10):
        store.set(f"k{n}", n, 60)
    assert [store.get(f"k{n}") for n in range(10)] == [None] * 7 + [7, 8, 9]
    store.set("gone", 1, 0)
    assert store.get("gone") is None


def test_recovery_never_fails_the_call_that_finds_redis_back(cache, redis_server):
    redis_server.stop()
    assert cache.get("x") is None
    assert cache.add("counter", 1, 60)  # counted here...
    redis_server.start()
    redis_server.client().set("t:1:counter", b"not a number")  # ...while Redis holds text
    _probe_now(cache)
    assert cache.get("x") is None  # the hand-over dropped the key instead of raising
    assert not redis_server.client().exists("t:1:counter")
