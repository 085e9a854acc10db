"""The visitor's confirmation of an AI action, end to end: the model asks (real SDKs against
the fake provider), nothing is sent, the widget API carries the card; Confirm runs exactly
the inputs shown once, with every rule checked again, and the model answers from the
result; Cancel logs a declined call. And the offline provider's keyword rule: no LLM, a
trigger phrase opens the action's form, sending it runs the call."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from actions.models import ActionCall, PendingCall
from actions.services import ConfirmationAnswered, confirmations
from chat.models import Contact, Message
from tests.chat.conftest import fake_llm  # noqa: F401 - the fixture, shared
from tests.chat.visitors import ORIGIN, asgi_post, make_visitor
from tests.fakes.action_endpoint import Answer
from tests.fakes.llm_server import Behaviour, FakeToolCall
from tests.hosts import PUBLIC_HOST

from .conftest import ORDER_PARAMETERS, action_of

pytestmark = pytest.mark.django_db

CANCEL = FakeToolCall("order_cancel", {"order_id": "1042", "reason": "Arrived late"})


@pytest.fixture
def ada(tenant_a, fake_llm):  # noqa: F811 - the shared fixture
    return make_visitor(tenant_a)


@pytest.fixture
def shop(endpoint, tenant_a):
    endpoint.tenant = tenant_a.tenant
    return endpoint


def _cancel_action(shop, **fields):
    with tenant_context(shop.tenant):
        return action_of(shop, title="Cancel an order", requires_confirmation=True, **fields)


def _asked(client, ada, fake_llm, shop) -> dict:  # noqa: F811
    """The model asks to cancel order 1042: the answer ends with the card."""
    fake_llm.enqueue(Behaviour(chunks=["I can cancel it for you."], tool_calls=[CANCEL]))
    answer = ada.send(client, "Please cancel my order 1042, it arrived late").json()["answer"]
    assert shop.requests == [] and len(fake_llm.requests) == 1  # nothing sent, no second round
    return answer["message"]


def _card_path(ada, card: dict, decision: str) -> str:
    return f"confirmations/{card['id']}/{decision}"


def _messages(client, ada) -> list[dict]:
    return client.get(ada.messages_path, **ada.headers()).json()["messages"]


@pytest.mark.parametrize("api", ["anthropic", "openai"])
def test_confirm_runs_the_inputs_shown_once_and_the_answer_uses_the_result(
    client,
    ada,
    shop,
    fake_llm,  # noqa: F811
    settings,
    api,
):
    settings.LLM_PROVIDER = api
    _cancel_action(shop, response_fields=["status"])
    asked = _asked(client, ada, fake_llm, shop)
    card = asked["card"]
    assert asked["text"] == "I can cancel it for you."
    assert card["kind"] == "confirm" and card["state"] == "pending" and card["title"] == "Cancel an order"
    assert card["summary"] == [
        {"label": "Order number", "value": "1042"},
        {"label": "Reason", "value": "Arrived late"},
    ]
    assert "tool" not in card  # the model's call is never shown to the visitor
    # A reload shows the card: the conversation's messages carry it.
    assert [m["card"] for m in _messages(client, ada) if m["role"] == "bot"] == [card]

    shop.answers = [Answer(body=b'{"status": "cancelled", "refund": 25}')]
    fake_llm.enqueue(Behaviour(text="Done: order 1042 is cancelled."))
    confirmed = ada.post(client, _card_path(ada, card, "confirm"))
    assert confirmed.status_code == 200, confirmed.content
    body = confirmed.json()
    assert body["role"] == "visitor" and body["text"] == "Confirmed: Cancel an order"
    assert body["answer"]["message"]["text"] == "Done: order 1042 is cancelled."
    [called] = shop.requests
    assert called.method == "POST" and called.path == "/orders/1042/cancel"
    assert json.loads(called.body) == {"reason": "Arrived late"}  # exactly what the card showed
    # The continuation has the model's call and its result in its context.
    [result] = fake_llm.requests[1].tool_results
    assert json.loads(result["content"]) == {"status": "cancelled"}
    assert "order_cancel" in json.dumps(fake_llm.requests[1].body["messages"])

    # A replay (a double click, a second tab) calls nothing more.
    again = ada.post(client, _card_path(ada, card, "confirm"))
    assert again.status_code == 409 and again.json()["code"] == "confirmation_answered"
    assert len(shop.requests) == 1 and len(fake_llm.requests) == 2
    cards = [m["card"] for m in _messages(client, ada) if m["card"]]
    assert [c["state"] for c in cards] == ["confirmed"]

    # Later answers keep the call and its result in the history.
    fake_llm.enqueue(Behaviour(text="You will get 25 back."))
    ada.send(client, "How much is refunded?")
    [kept] = fake_llm.requests[2].tool_results
    assert json.loads(kept["content"]) == {"status": "cancelled"}

    with tenant_context(ada.tenant):
        pending = PendingCall.objects.select_related("call").get()
        notes = list(
            Message.objects.filter(conversation=ada.conversation, role="note").values_list("text", flat=True)
        )
    assert pending.state == "confirmed" and pending.call.status == "succeeded"
    assert pending.call.arguments == CANCEL.arguments
    # Agents see the card and its outcome in the transcript.
    assert "waiting for the visitor's confirmation" in notes[0] and "Succeeded" in notes[1]


def test_cancel_calls_nothing_logs_a_declined_call_and_the_model_says_so(client, ada, shop, fake_llm):  # noqa: F811
    _cancel_action(shop)
    card = _asked(client, ada, fake_llm, shop)["card"]
    fake_llm.enqueue(Behaviour(text="OK, I did not cancel it."))
    streamed = asgi_post(
        ada.path(_card_path(ada, card, "cancel")),
        {},
        {
            "host": PUBLIC_HOST,
            "origin": ORIGIN,
            "authorization": f"Bearer {ada.token}",
            "accept": "text/event-stream",
        },
    )
    assert streamed.status == 200 and streamed.headers["content-type"].startswith("text/event-stream")
    events = streamed.events()  # streamed like any answer: the visitor's answer, then the bot's
    assert events[0][0] == "message" and events[0][1]["text"] == "Cancelled: Cancel an order"
    assert "delta" in [name for name, _ in events]
    assert events[-1][0] == "done" and events[-1][1]["message"]["text"] == "OK, I did not cancel it."
    assert shop.requests == []
    [result] = fake_llm.requests[1].tool_results
    assert "declined" in result["content"]
    with tenant_context(ada.tenant):
        call = ActionCall.objects.get()
    assert call.status == "declined" and call.arguments == CANCEL.arguments
    assert [c["card"]["state"] for c in _messages(client, ada) if c["card"]] == ["declined"]


def test_the_claim_is_a_conditional_update_not_the_state_read_before(client, ada, shop, fake_llm):  # noqa: F811
    """Two requests that both read the card as pending: the one that loses the UPDATE is
    refused, whatever it read."""
    _cancel_action(shop)
    card = _asked(client, ada, fake_llm, shop)["card"]
    with tenant_context(ada.tenant):
        stale = PendingCall.objects.get(public_id=card["id"])
    fake_llm.enqueue(Behaviour(text="Cancelled."))
    assert ada.post(client, _card_path(ada, card, "confirm")).status_code == 200
    with tenant_context(ada.tenant), pytest.raises(ConfirmationAnswered):
        confirmations._claimed(stale, PendingCall.State.CONFIRMED, None)
    assert len(shop.requests) == 1


def test_an_expired_card_is_refused_clearly(client, ada, shop, fake_llm):  # noqa: F811
    _cancel_action(shop)
    card = _asked(client, ada, fake_llm, shop)["card"]
    with tenant_context(ada.tenant):  # ten minutes later, for the row and the card it shows
        past = timezone.now() - timedelta(seconds=1)
        PendingCall.objects.update(expires_at=past)
        message = Message.objects.get(conversation=ada.conversation, card__id=card["id"])
        message.card = {**message.card, "expires_at": past.isoformat()}
        message.save(update_fields=["card"])
    response = ada.post(client, _card_path(ada, card, "confirm"))
    assert response.status_code == 410 and response.json()["code"] == "confirmation_expired"
    assert "expired" in response.json()["detail"]
    assert shop.requests == [] and len(fake_llm.requests) == 1
    assert [m["card"]["state"] for m in _messages(client, ada) if m["card"]] == ["expired"]


def test_only_the_conversations_own_visitor_answers_its_card(client, ada, shop, fake_llm, tenant_a):  # noqa: F811
    _cancel_action(shop)
    card = _asked(client, ada, fake_llm, shop)["card"]
    bob = make_visitor(tenant_a, email="bob@example.com")
    # Bob's token on Ada's conversation, and Ada's card on Bob's conversation: not found.
    ada_path = ada.path(_card_path(ada, card, "confirm"))
    refused = client.post(ada_path, {}, content_type="application/json", **bob.headers())
    assert refused.status_code == 404 and refused.json()["code"] == "not_found"
    elsewhere = bob.post(client, _card_path(bob, card, "confirm"))
    assert elsewhere.status_code == 404 and elsewhere.json()["code"] == "not_found"
    unknown = ada.post(client, "confirmations/0b7c6a52-3f0e-4d43-9a55-6a3c1c9f5a10/confirm")
    assert unknown.status_code == 404
    assert shop.requests == []


def test_the_verified_rule_is_checked_again_when_the_visitor_confirms(client, ada, shop, fake_llm):  # noqa: F811
    _cancel_action(shop, audience="verified")
    with tenant_context(ada.tenant):
        Contact.objects.filter(pk=ada.contact.pk).update(external_id="cust-42", identity_verified=True)
    card = _asked(client, ada, fake_llm, shop)["card"]
    with tenant_context(ada.tenant):  # signed out since (a new, unsigned identify)
        Contact.objects.filter(pk=ada.contact.pk).update(identity_verified=False)
    fake_llm.enqueue(Behaviour(text="Please sign in first."))
    response = ada.post(client, _card_path(ada, card, "confirm"))
    assert response.json()["answer"]["message"]["text"] == "Please sign in first."
    assert shop.requests == []
    [result] = fake_llm.requests[1].tool_results
    assert "sign" in result["content"]
    with tenant_context(ada.tenant):
        assert ActionCall.objects.get().status == "denied"


def test_a_card_for_an_action_turned_off_since_runs_nothing(client, ada, shop, fake_llm):  # noqa: F811
    action = _cancel_action(shop)
    card = _asked(client, ada, fake_llm, shop)["card"]
    with tenant_context(ada.tenant):
        from actions.services import action_update

        action_update(action=action, data={"is_enabled": False})
    fake_llm.enqueue(Behaviour(text="That is not possible right now."))
    assert ada.post(client, _card_path(ada, card, "confirm")).status_code == 200
    assert shop.requests == []
    with tenant_context(ada.tenant):
        assert ActionCall.objects.get().error == "The action is turned off."


# --- the offline provider's keyword rule ----------------------------------------------------


@pytest.fixture
def offline(settings, fake_llm):  # noqa: F811
    settings.LLM_PROVIDER = "offline"
    return fake_llm


def _form_action(shop, **fields):
    parameters = {
        **ORDER_PARAMETERS,
        "properties": {
            **ORDER_PARAMETERS["properties"],
            "reason": {"type": "string", "description": "Tell us why, if you like."},
            "speed": {"enum": ["standard", "express"], "title": "Refund speed"},
            "items": {"type": "integer"},
        },
    }
    with tenant_context(shop.tenant):
        return action_of(
            shop,
            title="Cancel an order",
            parameters=parameters,
            trigger_phrases=["cancel my order", "Stornieren"],
            response_fields=["status", "refund.amount"],
            **fields,
        )


def test_offline_a_trigger_phrase_opens_the_form_and_sending_it_calls_and_answers(
    client,
    ada,
    shop,
    offline,
):
    _form_action(shop)
    answer = ada.send(client, "Hi, I want to CANCEL my   order please").json()["answer"]
    card = answer["message"]["card"]
    assert answer["outcome"] == "action" and card["kind"] == "form" and card["state"] == "pending"
    # The required first, the others as PostgreSQL keeps an object's keys.
    fields = [(f["name"], f["label"], f["type"], f["required"]) for f in card["fields"]]
    assert fields == [
        ("order_id", "Order number", "string", True),
        ("items", "Items", "integer", False),
        ("speed", "Refund speed", "enum", False),
        ("notify", "Notify", "boolean", False),
        ("reason", "Reason", "string", False),
    ]
    assert card["fields"][2]["options"] == ["standard", "express"]
    assert card["fields"][4]["hint"] == "Tell us why, if you like."
    assert offline.requests == []  # no LLM anywhere

    bad = ada.post(client, _card_path(ada, card, "submit"), {"arguments": {"order_id": "ten", "items": 1.5}})
    assert bad.status_code == 422 and set(bad.json()["errors"]) == {"order_id", "items"}
    missing = ada.post(client, _card_path(ada, card, "submit"), {"arguments": {}})
    assert missing.status_code == 422 and missing.json()["errors"]["order_id"][0]["code"] == "required"
    assert shop.requests == []  # the form stays open

    shop.answers = [Answer(body=b'{"status": "cancelled", "refund": {"amount": 25}}')]
    sent = ada.post(
        client, _card_path(ada, card, "submit"), {"arguments": {"order_id": "1042", "speed": "express"}}
    )
    assert sent.status_code == 200, sent.content
    body = sent.json()
    assert body["text"] == "Order number: 1042\nRefund speed: express"
    assert body["answer"]["outcome"] == "action"
    assert body["answer"]["message"]["text"] == "Done: Cancel an order.\n\nStatus: cancelled\nAmount: 25"
    [called] = shop.requests
    assert called.path == "/orders/1042/cancel" and json.loads(called.body) == {"speed": "express"}
    again = ada.post(client, _card_path(ada, card, "submit"), {"arguments": {"order_id": "1043"}})
    assert again.status_code == 409 and len(shop.requests) == 1
    with tenant_context(ada.tenant):
        assert ActionCall.objects.get().status == "succeeded"
    assert offline.requests == []


def test_offline_a_form_cancelled_calls_nothing(client, ada, shop, offline):
    _form_action(shop)
    card = ada.send(client, "stornieren bitte").json()["answer"]["message"]["card"]
    answer = ada.post(client, _card_path(ada, card, "cancel")).json()["answer"]
    assert answer["message"]["text"] == "OK, nothing was done." and shop.requests == []
    with tenant_context(ada.tenant):
        assert ActionCall.objects.get().status == "declined"


def test_offline_without_a_trigger_match_the_answer_is_the_usual_one(client, ada, shop, offline):
    _form_action(shop)
    answer = ada.send(client, "Do you ship to Canada? My order is late.").json()["answer"]
    assert answer["message"]["card"] is None and answer["outcome"] != "action"
    with tenant_context(ada.tenant):
        assert not PendingCall.objects.exists()


def test_with_an_llm_trigger_phrases_open_no_form(client, ada, shop, fake_llm):  # noqa: F811
    _form_action(shop)
    fake_llm.enqueue(Behaviour(text="Which order?"))
    answer = ada.send(client, "cancel my order").json()["answer"]
    assert answer["message"]["text"] == "Which order?" and answer["message"]["card"] is None


def test_a_form_is_not_offered_for_inputs_a_form_cannot_ask():
    schema = {"type": "object", "properties": {"items": {"type": "array"}}, "required": ["items"]}
    assert confirmations.form_fields(schema) is None
    schema["required"] = []
    assert confirmations.form_fields(schema) == []  # an optional list is left out


@pytest.mark.parametrize(
    ("phrase", "text", "matches"),
    [
        ("cancel my order", "Can you cancel my order?", True),
        ("cancel my order", "cancel   MY order", True),
        ("order", "reorder", False),
        ("rückgabe", "Ich möchte eine Rückgabe", True),
    ],
)
def test_trigger_phrases_match_whole_words_in_any_case(phrase, text, matches):
    assert confirmations.phrase_matches(phrase, text) is matches


def test_the_history_carries_a_card_s_call_once_the_visitor_answered(ada):
    from chat.answering import history_turns
    from chat.cards import card_settled
    from chat.services.messages import message_append

    card = {
        "kind": "confirm",
        "id": "0b7c6a52-3f0e-4d43-9a55-6a3c1c9f5a10",
        "state": "pending",
        "tool": {
            "calls": [{"id": "t1", "name": "order_cancel", "arguments": {"order_id": "1"}}],
            "waiting": "t1",
        },
    }
    with tenant_context(ada.tenant):
        conversation = ada.conversation
        message_append(conversation=conversation, role="visitor", text="Cancel order 1")
        asked, _ = message_append(conversation=conversation, role="bot", text="Please confirm.", card=card)
        typed, _ = message_append(conversation=conversation, role="visitor", text="Is it done?")
        # Not answered yet: the model's call has no result, so the history has the words alone.
        assert all(not t.tool_calls and not t.tool_results for t in history_turns(conversation, typed))
        asked.card = card_settled(card, state="confirmed", result='{"status":"cancelled"}', is_error=False)
        asked.save(update_fields=["card"])
        *_, question, call, result = history_turns(conversation, typed)
    assert question.role == "user" and question.text == "Cancel order 1"
    assert call.role == "assistant" and call.text == "Please confirm." and call.tool_calls[0].id == "t1"
    assert result.role == "user" and result.text == "Is it done?"
    assert (
        result.tool_results[0].call_id == "t1" and result.tool_results[0].content == '{"status":"cancelled"}'
    )
