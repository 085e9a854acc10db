"""The agent and visitor sockets through the real ASGI application: who may connect and
join what, live delivery both ways, typing and read receipts, and replay after a
reconnect (exactly what was missed, once, in order)."""

from __future__ import annotations

import importlib
import json

import pytest
from django_tenants.utils import tenant_context

from chat.models import Conversation, Message
from chat.services.inbox import agent_note_add, agent_reply_send
from chat.services.messages import message_append
from tests.chat.factories import ConversationFactory
from tests.chat.realtime.sockets import (
    agent_session,
    agent_socket,
    committed,
    frames,
    messages,
    nothing_more,
    run_sockets,
    visitor_socket,
)
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


# --- who may connect -------------------------------------------------------------------------


def test_an_anonymous_agent_socket_is_refused(tenant_a):
    async def scenario():
        socket = agent_socket(tenant_a.host, None)
        connected, _ = await socket.connect()
        assert not connected

    run_sockets(scenario)


def test_a_session_of_another_workspace_is_refused(tenant_a, tenant_b, agent):
    # Bound to workspace A, carried to B's host: anonymous there, as for HTTP.
    key = agent_session(agent, tenant_a.tenant)

    async def scenario():
        socket = agent_socket(tenant_b.host, key)
        connected, _ = await socket.connect()
        assert not connected

    run_sockets(scenario)


def test_an_agent_socket_from_another_origin_is_refused(tenant_a, agent):
    key = agent_session(agent, tenant_a.tenant)

    async def scenario():
        socket = agent_socket(tenant_a.host, key, origin="https://evil.example")
        connected, _ = await socket.connect()
        assert not connected

    run_sockets(scenario)


def test_an_agent_cannot_join_another_workspaces_conversation(tenant_a, tenant_b, agent):
    """Ids repeat across schemas; groups carry the schema, and subscribing checks the row in
    the socket's own workspace: B's messages never reach A's agent."""
    with tenant_context(tenant_b.tenant):
        foreign = ConversationFactory()
    with tenant_context(tenant_a.tenant):
        Conversation.objects.filter(pk=foreign.pk).delete()  # no row of that id in A
    key = agent_session(agent, tenant_a.tenant)

    async def scenario():
        socket = agent_socket(tenant_a.host, key)
        assert (await socket.connect())[0]
        await socket.send_json_to({"type": "subscribe", "conversation": foreign.pk, "after": 0})
        refused = await frames(socket, until=lambda f: f["type"] == "error")
        assert refused[-1]["code"] == "not_found"
        await committed(
            tenant_b.tenant,
            lambda: message_append(conversation=foreign, role="visitor", text="MARKER-B secret"),
        )
        await nothing_more(socket)
        await nothing_more(socket, kind="conversation")
        await socket.disconnect()

    run_sockets(scenario)


def test_a_visitor_socket_needs_its_own_token_and_conversation(tenant_a, visitor):
    other = make_visitor(tenant_a, email="bob@example.com")

    async def scenario():
        # Another visitor's conversation with this visitor's token: not found.
        socket = visitor_socket(visitor.widget.key)
        assert (await socket.connect())[0]
        await socket.send_json_to(
            {"type": "hello", "token": visitor.token, "conversation": other.conversation.pk}
        )
        error = await socket.receive_json_from(timeout=5)
        assert error == {"type": "error", "code": "not_found", "detail": "No such conversation."}
        assert (await socket.receive_output(timeout=5))["code"] == 4404
        # A forged token.
        socket = visitor_socket(visitor.widget.key)
        await socket.connect()
        await socket.send_json_to(
            {"type": "hello", "token": visitor.token + "x", "conversation": visitor.conversation.pk}
        )
        assert (await socket.receive_json_from(timeout=5))["code"] == "visitor_token_invalid"
        # Anything before the hello.
        socket = visitor_socket(visitor.widget.key)
        await socket.connect()
        await socket.send_json_to({"type": "typing", "typing": True})
        assert (await socket.receive_json_from(timeout=5))["code"] == "hello_required"

    run_sockets(scenario)


def test_a_token_for_widget_a_is_refused_on_widget_b(tenant_a, visitor):
    from tenants.services.widget_routes import widget_route_register
    from tests.widget_builder.factories import WidgetFactory
    from widget_builder.services import widget_publish

    with tenant_context(tenant_a.tenant):
        widget_b = widget_publish(widget=WidgetFactory(name="Second"))
        widget_route_register(tenant=tenant_a.tenant, key=widget_b.key)

    async def scenario():
        socket = visitor_socket(widget_b.key)
        assert (await socket.connect())[0]
        await socket.send_json_to(
            {"type": "hello", "token": visitor.token, "conversation": visitor.conversation.pk}
        )
        assert (await socket.receive_json_from(timeout=5))["code"] == "visitor_token_invalid"
        assert (await socket.receive_output(timeout=5))["code"] == 4401

    run_sockets(scenario)


def test_a_site_the_widget_does_not_allow_cannot_open_a_visitor_socket(tenant_a, visitor):
    from widget_builder.services import widget_allowed_origins_set

    with tenant_context(tenant_a.tenant):
        widget_allowed_origins_set(widget=visitor.widget, origins=["https://customer.example"])

    async def scenario():
        socket = visitor_socket(visitor.widget.key, origin="https://evil.example")
        connected, _ = await socket.connect()
        assert not connected
        socket = visitor_socket("wk_nosuchwidget")
        connected, _ = await socket.connect()
        assert not connected

    run_sockets(scenario)


# --- live, both ways -------------------------------------------------------------------------


def test_agent_and_visitor_talk_live_with_typing_and_read_receipts(tenant_a, visitor, agent):
    key = agent_session(agent, tenant_a.tenant)
    conversation = visitor.conversation

    async def scenario():
        agent_ws, visitor_ws = agent_socket(tenant_a.host, key), visitor_socket(visitor.widget.key)
        assert (await agent_ws.connect())[0] and (await visitor_ws.connect())[0]
        await frames(agent_ws, until=lambda f: f["type"] == "counts")
        await agent_ws.send_json_to({"type": "subscribe", "conversation": conversation.pk, "after": 0})
        await visitor_ws.send_json_to(
            {"type": "hello", "token": visitor.token, "conversation": conversation.pk, "after": 0}
        )
        assert (await visitor_ws.receive_json_from(timeout=5))["type"] == "ready"

        # The visitor types: the agent sees it, with what is being written.
        await visitor_ws.send_json_to({"type": "typing", "typing": True, "text": "Where is my ord"})
        typing = (await frames(agent_ws, until=lambda f: f["type"] == "typing"))[-1]
        assert typing == {
            "type": "typing",
            "conversation": conversation.pk,
            "who": "visitor",
            "name": "",
            "typing": True,
            "preview": "Where is my ord",
        }

        # The visitor writes (over HTTP in real life; the service here): the agent gets it.
        visitor_message = await committed(
            tenant_a.tenant,
            lambda: message_append(conversation=conversation, role="visitor", text="Where is my order?")[0],
        )
        got = await messages(agent_ws, 1)
        assert got[0]["seq"] == visitor_message.seq and got[0]["text"] == "Where is my order?"

        # The agent types and replies: the visitor sees both, and who joined.
        await agent_ws.send_json_to({"type": "typing", "conversation": conversation.pk, "typing": True})
        seen = await frames(visitor_ws, until=lambda f: f["type"] == "typing")
        assert seen[-1]["name"] == "Ana"
        reply = await committed(
            tenant_a.tenant,
            lambda: agent_reply_send(conversation=conversation, user=agent, text="It ships **today**."),
        )
        seen += await frames(
            visitor_ws, until=lambda f: f["type"] == "message" and f["message"]["role"] == "agent"
        )
        texts = [f["message"]["text"] for f in seen if f["type"] == "message"]
        assert texts == ["Where is my order?", "Ana joined the conversation.", "It ships **today**."]
        assert seen[-1]["message"]["author_name"] == "Ana"
        assert any(
            f["type"] == "status" and f["status"] == "agent" and f["agent_name"] == "Ana" for f in seen
        )

        # A private note never reaches the visitor; the agent sees it.
        await committed(
            tenant_a.tenant,
            lambda: agent_note_add(conversation=conversation, user=agent, text="VIP customer"),
        )
        notes = await frames(
            agent_ws, until=lambda f: f["type"] == "message" and f["message"]["role"] == "note"
        )
        assert notes[-1]["message"]["text"] == "VIP customer"
        await nothing_more(visitor_ws)

        # The visitor reads the reply: the agent sees "seen up to" its number.
        await visitor_ws.send_json_to({"type": "read", "seq": reply.seq})
        read = (await frames(agent_ws, until=lambda f: f["type"] == "read"))[-1]
        assert read == {"type": "read", "conversation": conversation.pk, "who": "visitor", "seq": reply.seq}
        await agent_ws.disconnect()
        await visitor_ws.disconnect()

    run_sockets(scenario)
    with tenant_context(tenant_a.tenant):
        conversation.refresh_from_db()
        assert conversation.status == "agent" and conversation.assignee_user_id == agent.pk
        assert conversation.visitor_read_seq == conversation.last_seq - 1  # the note came after


def test_the_inbox_hears_of_new_conversations_and_handoffs(tenant_a, visitor, agent):
    from chat.services.conversations import conversation_handoff

    key = agent_session(agent, tenant_a.tenant)

    async def scenario():
        agent_ws = agent_socket(tenant_a.host, key)
        assert (await agent_ws.connect())[0]
        counts = (await frames(agent_ws, until=lambda f: f["type"] == "counts"))[-1]["counts"]
        await committed(tenant_a.tenant, lambda: conversation_handoff(conversation=visitor.conversation))
        seen = await frames(agent_ws, until=lambda f: f["type"] == "counts")
        kinds = {f["type"] for f in seen}
        assert {"conversation", "notification"} <= kinds
        notification = next(f for f in seen if f["type"] == "notification")
        assert notification["kind"] == "handoff" and notification["conversation"] == visitor.conversation.pk
        assert "Ada" in notification["title"]
        # The agent is online (the socket's heartbeat): round robin gave them the conversation.
        row = [f for f in seen if f["type"] == "conversation"][-1]["conversation"]
        assert row["assignee_user_id"] == agent.pk
        assert seen[-1]["counts"]["mine"] == counts["mine"] + 1
        await agent_ws.disconnect()

    run_sockets(scenario)


def test_the_inbox_hears_of_a_deleted_conversation(tenant_a, visitor, agent):
    """A visitor (or an admin, the API, retention) deletes a conversation: every agent's inbox
    is told once the delete commits, so its list drops the row and an open page says so."""
    from chat.services.deletion import conversations_delete

    key = agent_session(agent, tenant_a.tenant)
    conversation_id = visitor.conversation.pk

    async def scenario():
        agent_ws = agent_socket(tenant_a.host, key)
        assert (await agent_ws.connect())[0]
        await frames(agent_ws, until=lambda f: f["type"] == "counts")
        await committed(tenant_a.tenant, lambda: conversations_delete(conversation_ids=[conversation_id]))
        seen = await frames(agent_ws, until=lambda f: f["type"] == "counts")
        removed = [f for f in seen if f["type"] == "removed"]
        assert [f["conversations"] for f in removed] == [[conversation_id]]
        await agent_ws.disconnect()

    run_sockets(scenario)


# --- replay ----------------------------------------------------------------------------------


def test_a_reconnecting_visitor_gets_exactly_what_it_missed(tenant_a, visitor, agent):
    conversation = visitor.conversation

    async def scenario():
        socket = visitor_socket(visitor.widget.key)
        await socket.connect()
        await socket.send_json_to(
            {"type": "hello", "token": visitor.token, "conversation": conversation.pk, "after": 0}
        )
        await socket.receive_json_from(timeout=5)
        first = await committed(
            tenant_a.tenant, lambda: agent_reply_send(conversation=conversation, user=agent, text="one")
        )
        got = await messages(socket, 2)  # "joined", then the reply
        last_seen = got[-1]["seq"]
        assert last_seen == first.seq
        await socket.disconnect()  # the socket is cut

        for text in ("two", "three", "four"):
            await committed(
                tenant_a.tenant,
                lambda text=text: agent_reply_send(conversation=conversation, user=agent, text=text),
            )

        socket = visitor_socket(visitor.widget.key)
        await socket.connect()
        await socket.send_json_to(
            {"type": "hello", "token": visitor.token, "conversation": conversation.pk, "after": last_seen}
        )
        await socket.receive_json_from(timeout=5)
        missed = await messages(socket, 3)
        assert [m["text"] for m in missed] == ["two", "three", "four"]
        assert [m["seq"] for m in missed] == [last_seen + 1, last_seen + 2, last_seen + 3]
        await nothing_more(socket)
        await socket.disconnect()

    run_sockets(scenario)
    with tenant_context(tenant_a.tenant):
        assert Message.objects.filter(conversation=conversation, role="agent").count() == 4


def test_a_socket_that_floods_frames_is_closed(tenant_a, visitor, monkeypatch):
    monkeypatch.setattr("chat.realtime.consumers.FRAME_RATE", 0.0)  # no refill: the burst alone

    async def scenario():
        socket = visitor_socket(visitor.widget.key)
        await socket.connect()
        await socket.send_json_to(
            {"type": "hello", "token": visitor.token, "conversation": visitor.conversation.pk, "after": 0}
        )
        await socket.receive_json_from()
        for _ in range(40):
            await socket.send_json_to({"type": "ping"})
        outputs = []
        for _ in range(60):
            output = await socket.receive_output(timeout=5)
            outputs.append(output)
            if output["type"] == "websocket.close":
                break
        assert outputs[-1]["type"] == "websocket.close" and outputs[-1]["code"] == 4429
        assert len(outputs) - 1 == 20 - 1  # pongs until the burst was spent (the hello took one)

    run_sockets(scenario)


def test_agents_watching_see_the_bots_answer_being_written(tenant_a, visitor, agent):
    from tests.chat.visitors import ORIGIN, asgi_post_here
    from tests.hosts import PUBLIC_HOST

    key = agent_session(agent, tenant_a.tenant)
    conversation = visitor.conversation
    headers = {
        "host": PUBLIC_HOST,
        "origin": ORIGIN,
        "authorization": f"Bearer {visitor.token}",
        "accept": "text/event-stream",
    }

    async def scenario():
        agent_ws = agent_socket(tenant_a.host, key)
        assert (await agent_ws.connect())[0]
        await agent_ws.send_json_to({"type": "subscribe", "conversation": conversation.pk, "after": 0})
        await frames(agent_ws, until=lambda f: f["type"] == "counts")
        result = await asgi_post_here(visitor.messages_path, {"text": "Hello there"}, headers)
        assert result.status == 200
        body = result.body
        seen = await frames(agent_ws, until=lambda f: f["type"] == "delta_end")
        written = "".join(f["text"] for f in seen if f["type"] == "delta")
        done = next(b for b in body.decode().split("\n\n") if b.startswith("event: done"))
        answer = json.loads(done.split("data: ", 1)[1])["message"]
        assert written and written == answer["text"]
        await agent_ws.disconnect()

    run_sockets(scenario)


def test_agent_sockets_of_a_process_share_one_read_per_inbox_event(tenant_a, visitor, monkeypatch):
    """Every agent socket an inbox event reaches needs the same row: one read per process,
    whatever the number of agents online; each socket still filters what its agent may see."""
    from chat.realtime import queries

    users = []
    for name in ("ana", "ben", "cleo"):
        user = UserFactory(email=f"{name}@example.com")
        MembershipFactory(tenant=tenant_a.tenant, user=user, role="agent")
        users.append(user)
    keys = [agent_session(user, tenant_a.tenant) for user in users]
    reads = []
    real = queries.conversation_row
    monkeypatch.setattr(queries, "conversation_row", lambda pk: reads.append(pk) or real(pk))

    async def scenario():
        sockets = [agent_socket(tenant_a.host, key) for key in keys]
        for socket in sockets:
            assert (await socket.connect())[0]
            await frames(socket, until=lambda f: f["type"] == "counts")
        await committed(
            tenant_a.tenant,
            lambda: message_append(conversation=visitor.conversation, role="visitor", text="Hello"),
        )
        for socket in sockets:
            row = (await frames(socket, until=lambda f: f["type"] == "conversation"))[-1]["conversation"]
            assert row["id"] == visitor.conversation.pk and row["preview"] == "Hello"
        for socket in sockets:
            await socket.disconnect()

    run_sockets(scenario)
    assert reads == [visitor.conversation.pk]


# --- Redis down -------------------------------------------------------------------------------


@pytest.fixture
def asgi_loaded():
    """The ASGI application loaded before the test runs: loading it sets Django up, which
    configures logging again and would drop caplog's handler in the middle of the test."""
    importlib.import_module("saas.asgi")


def test_a_socket_closes_with_try_again_later_while_the_layer_is_down(
    tenant_a, visitor, own_redis, asgi_loaded, caplog
):
    """No traceback per socket: the socket closes with 1013 (the widget falls back to events
    or polling) and the layer's failure is logged once, however many sockets try."""
    own_redis.stop()

    async def attempt() -> dict:
        socket = visitor_socket(visitor.widget.key)
        await socket.send_input({"type": "websocket.connect"})
        while True:  # refused at the handshake, or just after it (the hello joins a group)
            out = await socket.receive_output(5)  # raises if the application failed
            if out["type"] == "websocket.accept":
                await socket.send_json_to(
                    {"type": "hello", "token": visitor.token, "conversation": visitor.conversation.pk}
                )
            elif out["type"] == "websocket.close":
                await socket.wait(5)
                return out

    closes = [run_sockets(attempt) for _ in range(2)]
    assert [c["code"] for c in closes] == [1013, 1013]
    lines = [r.getMessage() for r in caplog.records if r.name == "chat.realtime.events"]
    assert len(lines) == 1 and "unreachable" in lines[0]
    assert not [r for r in caplog.records if r.exc_info]
