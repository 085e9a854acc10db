"""Visitors keep chatting while Redis is down: the cache, the rate limits and the channel
layer point at a Redis of the test's own, which is stopped mid-conversation. Messages are
accepted and answered (the widget key resolves from the database), a flood is still
refused (the per-process limiter), /readyz says degraded, each part logs once per state
change, and everything uses Redis again when it returns."""

from __future__ import annotations

import logging

import pytest
from django.core.cache import caches

from tests.chat.visitors import ORIGIN, asgi_post, make_visitor
from tests.chat.widget_api.api_calls import conversation_started, message_send
from tests.hosts import PUBLIC_HOST

pytestmark = pytest.mark.django_db


def _lines(caplog, logger: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger]


def test_visitors_keep_chatting_while_redis_is_down(
    client, tenant_a, own_redis, settings, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.WARNING)
    settings.LLM_PROVIDER = "offline"
    widget, token, conversation_id = conversation_started(client, tenant_a)
    assert message_send(client, widget, token, conversation_id, text="before").status_code == 201
    assert own_redis.client().dbsize() > 0  # the widget route and limits were cached in Redis

    own_redis.stop()
    answered = []
    for n in range(3):
        with django_capture_on_commit_callbacks(execute=True):  # the realtime wake-ups run
            response = message_send(client, widget, token, conversation_id, text=f"during {n}")
        assert response.status_code == 201, response.content
        answered.append(response.json()["answer"]["message"]["seq"])
    assert answered == [4, 6, 8]  # each message stored with exactly one answer
    ready = client.get("/readyz", HTTP_HOST="saas.test")
    assert ready.status_code == 200 and ready.json()["checks"]["redis"] == "degraded"

    # One line per part that noticed, however many requests went by; no traceback.
    assert len(_lines(caplog, "saas.cache_backends")) == 1
    assert len(_lines(caplog, "chat.realtime.events")) == 1
    # (/readyz also reports the workers' and beat's heartbeats, kept in that Redis: degraded)
    assert len([line for line in _lines(caplog, "saas.health") if "redis is" in line]) == 1
    assert not [r for r in caplog.records if r.exc_info]

    own_redis.start()
    with django_capture_on_commit_callbacks(execute=True):
        response = message_send(client, widget, token, conversation_id, text="after")
    assert response.status_code == 201 and response.json()["answer"]["message"]["seq"] == 10
    assert client.get("/readyz", HTTP_HOST="saas.test").json()["checks"]["redis"] == "ok"
    assert "answers again" in _lines(caplog, "saas.cache_backends")[-1]
    assert _lines(caplog, "chat.realtime.events")[-1] == "realtime: channel layer answers again"
    assert own_redis.client().dbsize() > 0  # the cache is in Redis again


def test_a_flood_is_still_refused_while_redis_is_down(client, tenant_a, own_redis, settings):
    settings.LLM_PROVIDER = "offline"
    settings.CHAT_RATE_LIMITS = {**settings.CHAT_RATE_LIMITS, "visitor_messages_per_minute": 2}
    widget, token, conversation_id = conversation_started(client, tenant_a)
    own_redis.stop()
    statuses = [
        message_send(client, widget, token, conversation_id, text=f"m{n}").status_code for n in range(4)
    ]
    assert statuses == [201, 201, 429, 429]  # counted in this process meanwhile
    assert caches["ratelimit"]._cache.outage.down


def test_a_streamed_answer_arrives_while_redis_is_down(tenant_a, own_redis, settings):
    settings.LLM_PROVIDER = "offline"
    visitor = make_visitor(tenant_a)
    own_redis.stop()
    result = asgi_post(
        visitor.messages_path,
        {"text": "When do orders ship?", "client_message_id": "outage-1"},
        {
            "host": PUBLIC_HOST,
            "origin": ORIGIN,
            "authorization": f"Bearer {visitor.token}",
            "accept": "text/event-stream",
        },
    )
    assert result.status == 200
    kinds = [kind for kind, _ in result.events()]
    assert kinds[0] == "message" and kinds[-1] == "done"
