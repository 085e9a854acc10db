"""Actions in answers, end to end: the visitor API, the answer pipeline, the real SDKs
against the fake provider (which streams tool calls), the action's endpoint on a local
server. The model's call runs through the rules, its result goes back to the model, and
the answer is what the model then says."""

from __future__ import annotations

import json

import pytest
from django_tenants.utils import tenant_context

from actions import services
from actions.models import ActionCall
from chat.models import Contact, Message
from tests.chat.conftest import fake_llm  # noqa: F401 - the fixture, shared
from tests.chat.visitors import make_visitor
from tests.fakes.action_endpoint import Answer
from tests.fakes.llm_server import Behaviour, FakeToolCall

from .conftest import action_of

pytestmark = pytest.mark.django_db

STATUS = {
    "name": "order_status",
    "description": "Where an order is: its delivery status.",
    "method": "GET",
    "parameters": {
        "type": "object",
        "properties": {"order_id": {"type": "string", "pattern": "^[0-9]{1,10}$"}},
        "required": ["order_id"],
    },
}


@pytest.fixture
def ada(tenant_a, fake_llm):  # noqa: F811 - the shared fixture
    return make_visitor(tenant_a)


def _status_action(endpoint, **fields):
    with tenant_context(endpoint.tenant):
        return action_of(endpoint, **{**STATUS, "url": endpoint.url + "/orders/{order_id}", **fields})


@pytest.fixture
def shop(endpoint, tenant_a):
    endpoint.tenant = tenant_a.tenant
    return endpoint


def _reply(ada) -> Message:
    with tenant_context(ada.tenant):
        return Message.objects.filter(conversation=ada.conversation, role=Message.Role.BOT).get()


@pytest.mark.parametrize("api", ["anthropic", "openai"])
def test_the_model_calls_an_action_and_answers_from_its_result(client, ada, shop, fake_llm, settings, api):  # noqa: F811
    settings.LLM_PROVIDER = api
    _status_action(shop)
    shop.answers = [Answer(body=b'{"status": "shipped", "carrier": "DHL"}')]
    fake_llm.enqueue(
        Behaviour(chunks=["Let me look. "], tool_calls=[FakeToolCall("order_status", {"order_id": "1042"})]),
        Behaviour(text="Order 1042 has shipped with DHL."),
    )
    answer = ada.send(client, "Where is my order 1042?").json()["answer"]
    assert answer["outcome"] == "answered"
    assert answer["message"]["text"] == "Let me look. Order 1042 has shipped with DHL."
    [called] = shop.requests
    assert called.method == "GET" and called.path == "/orders/1042"
    first, second = fake_llm.requests
    assert first.tool_names == ["order_status"] and second.tool_names == ["order_status"]
    assert "You can act for the visitor with the tools offered" in (
        first.body["system"] if api == "anthropic" else first.body["messages"][0]["content"]
    )
    [result] = second.tool_results
    assert json.loads(result["content"]) == {"status": "shipped", "carrier": "DHL"}
    reply = _reply(ada)  # the tokens of both rounds
    assert reply.tokens_out == 1 + 6  # the fake counts a chunk a token: one, then six words
    with tenant_context(ada.tenant):
        call = ActionCall.objects.get(conversation=ada.conversation)
        roles = list(
            Message.objects.filter(conversation=ada.conversation).order_by("seq").values_list("role", "text")
        )
    assert call.status == "succeeded" and call.arguments == {"order_id": "1042"}
    assert call.contact_id == ada.contact.pk
    # Agents see the call where it happened (a private note, never the visitor's).
    assert [role for role, _ in roles] == ["visitor", "note", "bot"]
    note = roles[1][1]
    assert (
        "order_status" in note and "Succeeded" in note and "HTTP 200" in note and '"order_id": "1042"' in note
    )
    listed = client.get(ada.messages_path, **ada.headers())
    assert listed.status_code == 200 and "AI action" not in listed.content.decode()


@pytest.mark.parametrize("verified", [False, True])
def test_a_verified_only_action_is_refused_to_an_unverified_visitor(client, ada, shop, fake_llm, verified):  # noqa: F811
    _status_action(shop, audience="verified")
    with tenant_context(ada.tenant):  # the visitor claims to be cust-42; only a signed claim is verified
        Contact.objects.filter(pk=ada.contact.pk).update(external_id="cust-42", identity_verified=verified)
    fake_llm.enqueue(
        Behaviour(tool_calls=[FakeToolCall("order_status", {"order_id": "1042"})]),
        Behaviour(text="Please sign in first." if not verified else "It has shipped."),
    )
    answer = ada.send(client, "Where is my order 1042?").json()["answer"]
    [result] = fake_llm.requests[1].tool_results
    if verified:
        assert len(shop.requests) == 1 and shop.requests[0].headers["x-chatbot-visitor-id"] == "cust-42"
        assert answer["message"]["text"] == "It has shipped."
    else:
        assert shop.requests == []  # never sent
        assert "sign" in result["content"] and result["is_error"] in (True, None)
        with tenant_context(ada.tenant):
            assert ActionCall.objects.get(conversation=ada.conversation).status == "denied"


def test_broken_arguments_are_told_to_the_model_and_not_sent(client, ada, shop, fake_llm):  # noqa: F811
    _status_action(shop)
    fake_llm.enqueue(
        Behaviour(tool_calls=[FakeToolCall("order_status", raw_arguments='{"order_id": 10')]),
        Behaviour(text="Which order number?"),
    )
    answer = ada.send(client, "Where is my order?").json()["answer"]
    assert answer["message"]["text"] == "Which order number?" and shop.requests == []
    [result] = fake_llm.requests[1].tool_results
    assert "not valid JSON" in result["content"]


def test_an_unknown_tool_name_is_told_to_the_model(client, ada, shop, fake_llm):  # noqa: F811
    _status_action(shop)
    fake_llm.enqueue(
        Behaviour(tool_calls=[FakeToolCall("order_refund", {"order_id": "1"})]),
        Behaviour(text="I cannot do refunds here."),
    )
    ada.send(client, "Refund order 1")
    [result] = fake_llm.requests[1].tool_results
    assert "no tool named 'order_refund'" in result["content"] and shop.requests == []


def test_a_model_that_keeps_calling_tools_is_stopped(client, ada, shop, fake_llm):  # noqa: F811
    from chat.answering.tools import MAX_TOOL_ROUNDS

    _status_action(shop)
    fake_llm.enqueue(
        *[Behaviour(tool_calls=[FakeToolCall("order_status", {"order_id": str(i)})]) for i in range(10)]
    )
    response = ada.send(client, "Where are my orders?")
    assert response.status_code == 201
    assert len(fake_llm.requests) == MAX_TOOL_ROUNDS + 1 and len(shop.requests) == MAX_TOOL_ROUNDS


def test_without_actions_no_tools_are_offered(client, ada, fake_llm):  # noqa: F811
    fake_llm.enqueue(Behaviour(text="Hello."))
    ada.send(client, "Hi")
    assert "tools" not in fake_llm.requests[-1].body
    assert "You can act for the visitor" not in fake_llm.requests[-1].body["system"]


def test_actions_that_need_a_confirmation_are_offered_saying_so(client, ada, shop, fake_llm):  # noqa: F811
    _status_action(shop, requires_confirmation=True)
    fake_llm.enqueue(Behaviour(text="Hello."))
    ada.send(client, "Hi")
    [tool] = fake_llm.requests[-1].body["tools"]
    assert tool["name"] == "order_status" and "The visitor confirms in the chat" in tool["description"]


def test_a_new_or_changed_action_is_offered_from_the_next_answer(client, ada, shop, fake_llm):  # noqa: F811
    fake_llm.enqueue(Behaviour(text="Hello."), Behaviour(text="Hello."), Behaviour(text="Hello."))
    ada.send(client, "Hi")  # no action yet: that is what the workspace's cache holds
    action = _status_action(shop)
    ada.send(client, "Hi again")
    assert fake_llm.requests[-1].tool_names == ["order_status"]
    with tenant_context(ada.tenant):
        services.action_update(action=action, data={"is_enabled": False})
    ada.send(client, "And now?")
    assert "tools" not in fake_llm.requests[-1].body


def test_at_most_three_calls_run_in_one_round(client, ada, shop, fake_llm):  # noqa: F811
    _status_action(shop)
    calls = [FakeToolCall("order_status", {"order_id": str(n)}) for n in range(5)]
    fake_llm.enqueue(Behaviour(tool_calls=calls), Behaviour(text="Three of them."))
    ada.send(client, "Where are orders 0 to 4?")
    assert len(shop.requests) == 3
    results = fake_llm.requests[1].tool_results
    assert len(results) == 5 and all("at most 3 tools" in r["content"] for r in results[3:])
