"""The visitor's fallback when WebSockets are blocked: server-sent events with the same
guarantees (after ``Last-Event-ID``: every message, in order, once; notes never), and the
visitor's typing and read receipts as posts."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync
from django_tenants.utils import tenant_context

from chat.realtime.events import conversation_group
from chat.services.inbox import agent_note_add, agent_reply_send
from chat.widget_api import events as widget_events
from chat.widget_api.events import live_events
from tests.chat.realtime.sockets import agent_session, agent_socket, committed, frames, run_sockets
from tests.chat.visitors import make_visitor
from tests.tenants.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def visitor(tenant_a):
    return make_visitor(tenant_a)


@pytest.fixture
def agent(tenant_a):
    user = UserFactory(email="ana@example.com", first_name="Ana")
    MembershipFactory(tenant=tenant_a.tenant, user=user, role="agent")
    return user


def sse(body: bytes) -> list[tuple[str, str | None, dict]]:
    out = []
    for block in body.decode().split("\n\n"):
        lines = [line for line in block.splitlines() if line and not line.startswith(":")]
        fields = dict(line.split(": ", 1) for line in lines if ": " in line)
        if "event" in fields:
            out.append((fields["event"], fields.get("id"), json.loads(fields["data"])))
    return out


def read_stream(response) -> bytes:
    async def read() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    return async_to_sync(read)()


def test_the_stream_replays_exactly_what_was_missed(client, settings, tenant_a, visitor, agent):
    settings.CHAT_EVENTS_STREAM_SECONDS = 0.3
    with tenant_context(tenant_a.tenant):
        first = agent_reply_send(conversation=visitor.conversation, user=agent, text="one")
        for text in ("two", "three", "four"):
            agent_reply_send(conversation=visitor.conversation, user=agent, text=text)
        agent_note_add(conversation=visitor.conversation, user=agent, text="secret note")
    response = client.get(visitor.path("events"), HTTP_LAST_EVENT_ID=str(first.seq), **visitor.headers())
    assert response.status_code == 200 and response["Content-Type"].startswith("text/event-stream")
    assert response["Cache-Control"] == "no-cache, no-store" and response["X-Accel-Buffering"] == "no"
    events = sse(read_stream(response))
    assert [(name, data["text"]) for name, _, data in events] == [
        ("message", "two"),
        ("message", "three"),
        ("message", "four"),
    ]
    assert [int(event_id) for _, event_id, _ in events] == [first.seq + 1, first.seq + 2, first.seq + 3]


def test_a_wsgi_server_replays_and_ends_the_stream_at_once(client, settings, tenant_a, visitor, agent):
    """Under WSGI each open stream would hold a worker thread: the stream replays and ends,
    and the client reconnects (the test client is WSGI; ASGI streams are tested above)."""
    settings.CHAT_EVENTS_STREAM_SECONDS = 30
    with tenant_context(tenant_a.tenant):
        agent_reply_send(conversation=visitor.conversation, user=agent, text="one")
    body = read_stream(client.get(visitor.path("events"), **visitor.headers()))
    assert b": keep-alive" not in body  # it did not wait for anything
    assert [d["text"] for _, _, d in sse(body)] == ["Ana joined the conversation.", "one"]


def test_the_stream_needs_the_visitors_token(client, visitor, tenant_a):
    other = make_visitor(tenant_a, email="bob@example.com")
    assert client.get(visitor.path("events"), **visitor.headers(HTTP_AUTHORIZATION="")).status_code == 401
    foreign = client.get(other.path("events"), **visitor.headers())
    assert foreign.status_code == 404


def test_live_events_arrive_while_the_stream_is_open(settings, tenant_a, visitor, agent):
    settings.CHAT_EVENTS_STREAM_SECONDS = 3
    schema = tenant_a.tenant.schema_name

    async def scenario():
        stream = live_events(schema, visitor.conversation.pk, 0)
        assert await anext(stream) == b"retry: 2000\n\n"
        await committed(
            tenant_a.tenant,
            lambda: agent_reply_send(conversation=visitor.conversation, user=agent, text="live"),
        )
        got = []
        async for chunk in stream:
            got += sse(chunk)
            if any(d.get("text") == "live" for _, _, d in got) and any(n == "status" for n, _, _ in got):
                break
        await stream.aclose()
        return got

    got = async_to_sync(scenario)()
    assert [d["text"] for name, _, d in got if name == "message"] == ["Ana joined the conversation.", "live"]
    assert any(name == "status" and d["status"] == "agent" for name, _, d in got)


def test_the_stream_polls_the_database_while_the_layer_is_down(
    settings, tenant_a, visitor, agent, own_redis, monkeypatch, caplog
):
    """Redis down: no channel layer to wait on, so the stream reads the database every
    ``POLL_SECONDS``; the visitor still gets every message, and no traceback is logged."""
    settings.CHAT_EVENTS_STREAM_SECONDS = 30
    monkeypatch.setattr(widget_events, "POLL_SECONDS", 0.05)
    schema = tenant_a.tenant.schema_name
    own_redis.stop()

    async def scenario():
        stream = live_events(schema, visitor.conversation.pk, 0)
        got = sse(await anext(stream) + await anext(stream))  # the retry hint, the replay
        await committed(
            tenant_a.tenant,
            lambda: agent_reply_send(conversation=visitor.conversation, user=agent, text="polled"),
        )
        async for chunk in stream:
            got += sse(chunk)
            if any(d.get("text") == "polled" for _, _, d in got):
                break
        await stream.aclose()
        return got

    got = async_to_sync(scenario)()
    assert [d["text"] for name, _, d in got if name == "message"] == [
        "Ana joined the conversation.",
        "polled",
    ]
    assert [r.getMessage().split(" (")[0] for r in caplog.records if r.name == "chat.realtime.events"] == [
        "realtime: channel layer unreachable"
    ]
    assert not [r for r in caplog.records if r.exc_info]


def test_typing_and_read_posts_reach_the_agent(client, tenant_a, visitor, agent):
    key = agent_session(agent, tenant_a.tenant)
    conversation = visitor.conversation
    with tenant_context(tenant_a.tenant):
        reply = agent_reply_send(conversation=conversation, user=agent, text="Hi")

    async def scenario():
        socket = agent_socket(tenant_a.host, key)
        assert (await socket.connect())[0]
        # Subscribed once the reply it asks for again has come.
        await socket.send_json_to(
            {"type": "subscribe", "conversation": conversation.pk, "after": reply.seq - 1}
        )
        await frames(socket, until=lambda f: f["type"] == "message")
        post = visitor.post
        from asgiref.sync import sync_to_async

        typed = await sync_to_async(post, thread_sensitive=True)(
            client, "typing", {"typing": True, "text": "Tha"}
        )
        assert typed.status_code == 200
        typing = (await frames(socket, until=lambda f: f["type"] == "typing"))[-1]
        assert typing["who"] == "visitor" and typing["preview"] == "Tha"
        read = await sync_to_async(post, thread_sensitive=True)(client, "read", {"seq": reply.seq})
        assert read.json() == {"seq": reply.seq}
        receipt = (await frames(socket, until=lambda f: f["type"] == "read"))[-1]
        assert receipt["seq"] == reply.seq and receipt["who"] == "visitor"
        await socket.disconnect()

    run_sockets(scenario)
    assert conversation_group("t_x", 1) == "t_x.conv.1"
