"""chat.widget_api.conversations: a visitor's conversations and messages (numbered, listed
after a sequence number, stored once per client message id, too long refused before any
LLM call), which answer a reconnecting visitor still waits for, what is refused, and the
queries a message and a reconnecting read take."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from chat.models import Message
from tests.chat.visitors import asgi_post, make_visitor
from tests.chat.widget_api.api_calls import (
    ORIGIN,
    conversation_started,
    conversations_get,
    message_send,
    messages_url,
    session_start,
)
from tests.hosts import PUBLIC_HOST
from widget_builder.models import Widget
from widget_builder.services import widget_prechat_set, widget_publish

pytestmark = pytest.mark.django_db


def test_conversations_are_the_visitors_own(client, known_user):
    widget, _, _ = known_user
    stranger = session_start(client, widget)
    assert conversations_get(client, widget, stranger["token"]).json()["conversations"] == []
    assert conversations_get(client, widget, "forged").status_code == 401


def test_messages_are_numbered_and_listed_after_a_sequence(client, tenant_a):
    widget, token, conversation_id = conversation_started(client, tenant_a)
    sent = [message_send(client, widget, token, conversation_id, text=f"hello {i}").json() for i in range(3)]
    # Each visitor message is followed by the bot's answer.
    assert [m["seq"] for m in sent] == [1, 3, 5] and [m["answer"]["message"]["seq"] for m in sent] == [
        2,
        4,
        6,
    ]
    listed = client.get(
        messages_url(widget, conversation_id) + "?after=2",
        HTTP_HOST=PUBLIC_HOST,
        HTTP_ORIGIN=ORIGIN,
        HTTP_AUTHORIZATION=f"Bearer {token}",
    ).json()
    assert [m["seq"] for m in listed["messages"]] == [3, 4, 5, 6] and listed["last_seq"] == 6
    assert listed["messages"][0]["role"] == "visitor" and listed["messages"][0]["text"] == "hello 1"
    assert listed["messages"][1]["role"] == "bot" and listed["awaiting_answer_after"] is None


@pytest.mark.parametrize("reserved", ["card:8f0c1d2e-0000-4000-8000-000000000000", "reply:12"])
def test_the_platforms_own_message_ids_are_refused(client, tenant_a, reserved):
    """A card's messages (the visitor's choice, a form's answer) get ids of these forms; a
    visitor who took one first would make the action's answer fail to store."""
    widget, token, conversation_id = conversation_started(client, tenant_a)
    refused = message_send(client, widget, token, conversation_id, text="Hi", client_message_id=reserved)
    assert refused.status_code == 422
    assert "client_message_id" in refused.json()["errors"]


def test_the_same_client_message_id_stores_one_message(client, tenant_a):
    widget, token, conversation_id = conversation_started(client, tenant_a)
    first = message_send(
        client, widget, token, conversation_id, text="Where is my order?", client_message_id="c-1"
    )
    again = message_send(
        client, widget, token, conversation_id, text="Where is my order?", client_message_id="c-1"
    )
    assert first.status_code == 201 and again.status_code == 200 and first.json() == again.json()
    changed = message_send(
        client, widget, token, conversation_id, text="Something else", client_message_id="c-1"
    )
    assert changed.status_code == 422 and changed.json()["code"] == "client_message_id_reused"
    with tenant_context(tenant_a.tenant):
        # One visitor message and its one answer, however often it was sent.
        roles = list(Message.objects.filter(conversation_id=conversation_id).values_list("role", flat=True))
        assert sorted(roles) == ["bot", "visitor"]


def test_bad_messages_and_foreign_conversations(client, tenant_a):
    widget, token, conversation_id = conversation_started(client, tenant_a)
    assert (
        message_send(client, widget, token, conversation_id, text="   ").json()["errors"]["text"][0]["code"]
        == "required"
    )
    assert (
        message_send(client, widget, token, conversation_id, text="x" * 5000).json()["errors"]["text"][0][
            "code"
        ]
        == "too_long"
    )
    stranger = session_start(client, widget)["token"]
    assert message_send(client, widget, stranger, conversation_id, text="hi").status_code == 404
    assert (
        client.get(
            messages_url(widget, conversation_id),
            HTTP_HOST=PUBLIC_HOST,
            HTTP_ORIGIN=ORIGIN,
            HTTP_AUTHORIZATION=f"Bearer {stranger}",
        ).status_code
        == 404
    )


def test_long_messages_are_refused_before_any_llm_call(client, visitor, fake_llm):
    too_long = visitor.send(client, "x" * 4001)
    assert too_long.status_code == 422 and too_long.json()["errors"]["text"][0]["code"] == "too_long"
    huge = visitor.send(client, "x" * 70_000)
    assert huge.status_code == 413 and huge.json()["code"] == "payload_too_large"
    assert fake_llm.requests == []
    with tenant_context(visitor.tenant):
        assert not Message.objects.filter(conversation=visitor.conversation).exists()


def test_a_reconnecting_visitor_learns_which_answer_is_still_being_written(client, visitor):
    from chat.answering import answer_prepare
    from chat.services import message_append

    with tenant_context(visitor.tenant):
        message, _ = message_append(conversation=visitor.conversation, role="visitor", text="unanswered")
    listed = client.get(visitor.messages_path + "?after=0", **visitor.headers()).json()
    assert listed["awaiting_answer_after"] is None  # nothing is being written: nothing to wait for
    with tenant_context(visitor.tenant):
        answer_prepare(tenant=visitor.tenant, conversation=visitor.conversation, visitor_message=message)
    listed = client.get(visitor.messages_path + "?after=0", **visitor.headers()).json()
    assert listed["awaiting_answer_after"] == 1 and listed["status"] == "bot"


# --- queries on the visitor message path ---------------------------------------------------
# Pinned exactly: a new query here is a decision, not an accident. Both are measured with
# warm caches (the widget key's route and the bot's settings are cached by the first
# message), as every message of a conversation but its first is served.


def test_sending_a_message_takes_thirteen_queries(client, tenant_a, settings, django_assert_num_queries):
    settings.LLM_PROVIDER = "offline"  # the JSON answer, no provider to call
    visitor = make_visitor(tenant_a)
    assert visitor.send(client, "When do you open?").status_code == 201
    #  1  SET search_path: the schema of the widget key's tenant (the widget row and its
    #     bot come from the cache: widget_builder.snapshots, chat.selectors.bot_snapshot)
    #  2  the visitor's contact, from the token (chat.widget_api.auth)
    #  3  the visitor's conversation (chat.widget_api.base; its widget is the view's)
    #  4-6  message_append: one statement takes the row lock and the next number (UPDATE)
    #       and inserts the message, in a SAVEPOINT here (the test's transaction; a request
    #       outside one sends the statement alone)
    #  7  billing in one read: the plan, an unpaid restriction, the quota's grants
    #     (billing.selectors.answer_terms)
    #  8  the knowledge bases the bot searches, each with whether it holds a chunk (none
    #     here: no embedding, no search)
    #  9  the AI answer credit: one upsert of the period's and the day's counters
    # 10  the conversation's history for the prompt (history_turns)
    # 11-13  message_append for the reply, as 4-6 (the schema is still the tenant's: no
    #        second SET search_path)
    with django_assert_num_queries(13):
        response = visitor.send(client, "And on Sundays?")
    assert response.status_code == 201 and response.json()["answer"]["outcome"] == "no_answer"


def test_a_streamed_answer_takes_fourteen_queries(tenant_a, fake_llm, django_assert_num_queries):
    """The same path answered as server-sent events through the ASGI application, with a
    provider's answer: the JSON send's queries, and the tenant's schema entered again for
    the reply (it is stored by the stream, after the view has returned)."""
    visitor = make_visitor(tenant_a)
    headers = {
        "host": PUBLIC_HOST,
        "origin": ORIGIN,
        "authorization": f"Bearer {visitor.token}",
        "accept": "text/event-stream",
    }
    first = asgi_post(visitor.messages_path, {"text": "When do you open?"}, headers)
    assert first.status == 200 and first.events()[-1][0] == "done"
    with django_assert_num_queries(14):
        result = asgi_post(visitor.messages_path, {"text": "And on Sundays?"}, headers)
    events = result.events()
    assert result.status == 200 and events[-1][0] == "done"
    assert events[-1][1]["message"]["role"] == "bot"


def test_listing_messages_after_a_number_takes_five_queries(
    client, tenant_a, settings, django_assert_num_queries
):
    settings.LLM_PROVIDER = "offline"
    visitor = make_visitor(tenant_a)
    for question in ("When do you open?", "And on Sundays?", "Where are you?"):
        assert visitor.send(client, question).status_code == 201
    #  1  SET search_path: the schema of the widget key's tenant (the widget is cached)
    #  2  the visitor's contact, from the token
    #  3  the visitor's conversation
    #  4  its messages after the number, in order (whatever their count)
    #  5  the visitor message still waiting for its answer, if any
    with django_assert_num_queries(5):
        response = client.get(visitor.messages_path + "?after=1", **visitor.headers())
    assert response.status_code == 200
    assert [m["seq"] for m in response.json()["messages"]] == [2, 3, 4, 5, 6]


def test_a_conversation_needs_the_prechat_form_first(client, tenant_a):
    with tenant_context(tenant_a.tenant):
        widget = Widget.objects.order_by("id").first()
        widget_prechat_set(
            widget=widget, enabled=True, fields=[{"kind": "email", "label": "Email", "required": True}]
        )
        widget_publish(widget=widget)
    headers = {"HTTP_HOST": PUBLIC_HOST, "HTTP_ORIGIN": "https://customer.example"}
    token = client.post(
        f"/api/widget/v1/{widget.key}/session", {}, content_type="application/json", **headers
    ).json()["token"]
    response = client.post(
        f"/api/widget/v1/{widget.key}/conversations",
        {},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        **headers,
    )
    assert response.status_code == 409 and response.json()["code"] == "prechat_required"
