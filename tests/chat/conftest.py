"""Fixtures for the chat engine: the fake LLM provider (real SDKs, local HTTP) and a
visitor with a conversation on tenant A's widget (tests/chat/visitors.py); the cache,
rate limits and channel layer on a Redis of the test's own (``own_redis``), for outages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection, transaction
from django_tenants.utils import schema_context

from chat.llm.resilience import breakers_reset
from chat.realtime import events
from saas import cache_backends, health
from tests.chat.visitors import Visitor, make_visitor
from tests.redis_server import RedisServer


@pytest.fixture(autouse=True)
def _layer_taken_as_up(monkeypatch):
    """Whatever an earlier test's outage left: the channel layer is taken as answering
    (a layer that failed moments ago is not asked again: chat.realtime.events)."""
    monkeypatch.setattr(events._LayerState, "down", False)
    monkeypatch.setattr(events._LayerState, "failed_at", 0.0)


@pytest.fixture
def fake_llm(fake_llm_server, settings):
    """The fake provider as the platform's Anthropic and OpenAI endpoints (platform keys)."""
    fake_llm_server.reset()
    breakers_reset()
    settings.LLM_PROVIDER = "anthropic"
    settings.LLM_MODEL = ""
    settings.ANTHROPIC_API_KEY = "sk-ant-platform-test"
    settings.ANTHROPIC_BASE_URL = fake_llm_server.url
    settings.OPENAI_API_KEY = "sk-openai-platform-test"
    settings.OPENAI_BASE_URL = fake_llm_server.url + "/v1"
    settings.LLM_MAX_RETRIES = 2
    yield fake_llm_server
    fake_llm_server.reset()
    breakers_reset()


@pytest.fixture
def visitor(tenant_a, fake_llm) -> Visitor:
    return make_visitor(tenant_a)


@pytest.fixture
def own_keys_allowed(monkeypatch):
    """The shared tenants are on Free, which allows no own LLM keys: allow them here."""
    import dataclasses

    from billing import plans

    free = dataclasses.replace(plans.FREE, own_llm_key=True)
    monkeypatch.setitem(plans.BY_CODE, "free", free)
    monkeypatch.setattr(plans, "FREE", free)


@pytest.fixture
def tasks_run_here(monkeypatch):
    """Queued tasks run in this thread, in the schema active when queued, after the commit."""

    def enqueue(task, *args, **kwargs):
        schema = connection.schema_name

        def run():
            with schema_context(schema):
                task.apply(args=args, kwargs=kwargs)

        transaction.on_commit(run)

    monkeypatch.setattr("chat.services.notifications.enqueue_on_commit", enqueue)


RESILIENT = "saas.cache_backends.ResilientRedisCache"
TIMEOUTS = {"socket_connect_timeout": 1, "socket_timeout": 1}


@pytest.fixture
def own_redis(settings, monkeypatch) -> Iterator[RedisServer]:
    """The cache, the rate limits and the channel layer on a Redis of the test's own, which
    the test may stop and start (``.stop()``, ``.start()``); each part starts as "up"."""
    if not RedisServer.available():
        pytest.skip("NOTICE: redis-server is not installed")
    server = RedisServer()
    server.start()
    monkeypatch.setattr(cache_backends, "_outages", {})
    monkeypatch.setattr(cache_backends, "RETRY_SECONDS", 0.0)  # probe on every call: no waiting
    monkeypatch.setattr(health, "_last_state", {})
    monkeypatch.setattr(events._LayerState, "down", False)
    settings.REDIS_URL = server.url()
    settings.CACHES = {
        "default": {
            "BACKEND": RESILIENT,
            "LOCATION": server.url(),
            "KEY_FUNCTION": "django_tenants.cache.make_key",
            "OPTIONS": TIMEOUTS,
        },
        "ratelimit": {
            "BACKEND": RESILIENT,
            "LOCATION": server.url(),
            "KEY_PREFIX": "ratelimit",
            "OPTIONS": TIMEOUTS,
        },
    }
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": server.url(), "socket_connect_timeout": 1}]},
        }
    }
    yield server
    server.stop()
