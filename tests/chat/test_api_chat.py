"""chat.apis_chat, the server-side chat API: a tenant's server opens a conversation for one
of its users with an API key and sends messages answered through the widget's pipeline
(the fake LLM server), as JSON or server-sent events; quotas, handoff in words, retries;
the visitor API sees the same conversation; roles, other workspaces, 422 per field."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from chat.models import Contact, Conversation, Message
from chat.visitor_tokens import visitor_token_issue
from tests.billing.factories import UsageCounterFactory
from tests.chat.factories import AutomationRuleFactory, ContactFactory, ConversationFactory
from tests.chat.test_answering import PASSAGES
from tests.chat.test_api import PROBLEM, _client, _errors
from tests.chat.visitors import ORIGIN, asgi_post
from tests.fakes.llm_server import Behaviour
from tests.hosts import PUBLIC_HOST
from tests.tenants.factories import ApiKeyFactory, MembershipFactory
from tests.widget_builder.factories import WidgetFactory
from widget_builder.models import Widget
from widget_builder.services import widget_prechat_set, widget_publish

pytestmark = pytest.mark.django_db
BASE = "/api/v1/chat/conversations"


def _post(client, path, body, **extra):
    return client.post(path, json.dumps(body), content_type="application/json", **extra)


@pytest.fixture
def widget(tenant_a):
    with tenant_context(tenant_a.tenant):
        return widget_publish(widget=Widget.objects.order_by("id").first())


@pytest.fixture
def key(tenant_a):
    return ApiKeyFactory(tenant=tenant_a.tenant, name="Backend", role="agent")


@pytest.fixture
def server(tenant_a, key) -> Client:
    return _client(tenant_a, secret=key.secret)


def _open(server, widget, external_id="user-42", **fields) -> dict:
    response = _post(server, BASE, {"widget_id": widget.pk, "external_id": external_id, **fields})
    assert response.status_code == 201, response.content
    return response.json()


def _stored(seeded, conversation_id) -> list[Message]:
    with tenant_context(seeded.tenant):
        return list(Message.objects.filter(conversation_id=conversation_id).order_by("seq"))


def test_opening_finds_or_creates_the_verified_contact(tenant_a, server, widget, fake_llm):
    first = _open(server, widget, name="Ada", email="Ada@Example.com")
    assert first["status"] == "bot" and first["contact_external_id"] == "user-42"
    assert first["widget_id"] == widget.pk and first["messages"] == []
    second = _open(server, widget)
    other = _open(server, widget, external_id="user-43")
    assert second["id"] != first["id"] and second["contact"]["id"] == first["contact"]["id"]
    assert other["contact"]["id"] != first["contact"]["id"]
    with tenant_context(tenant_a.tenant):
        contact = Contact.objects.get(public_id=first["contact"]["id"])
    assert contact.identity_verified and contact.external_id == "user-42"
    assert (contact.name, contact.email, contact.email_source) == ("Ada", "ada@example.com", "verified")


def test_opening_carries_the_greeting_and_skips_the_prechat_form(tenant_a, server, widget, fake_llm):
    with tenant_context(tenant_a.tenant):
        AutomationRuleFactory(widget=widget, kind="greeting", reply="Welcome!")
        widget_prechat_set(
            widget=widget, enabled=True, fields=[{"kind": "email", "label": "Email", "required": True}]
        )
        widget_publish(widget=widget)
    opened = _open(server, widget)
    assert [m["text"] for m in opened["messages"]] == ["Welcome!"]


def test_a_message_is_answered_whole_as_json(tenant_a, server, widget, fake_llm):
    opened = _open(server, widget)
    path = f"{BASE}/{opened['id']}/messages"
    response = _post(server, path, {"text": "When do you open?", "client_message_id": "m-1"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["role"] == "visitor" and body["text"] == "When do you open?"
    assert body["answer"]["outcome"] == "answered" and body["answer"]["message"]["role"] == "bot"
    assert "When do you open?" in body["answer"]["message"]["text"]
    again = _post(server, path, {"text": "When do you open?", "client_message_id": "m-1"})
    assert (
        again.status_code == 200
        and again.json()["answer"]["message"]["seq"] == body["answer"]["message"]["seq"]
    )
    assert len(fake_llm.requests) == 1
    assert [m.role for m in _stored(tenant_a, opened["id"])] == ["visitor", "bot"]


def test_a_message_is_answered_as_server_sent_events_in_order(tenant_a, key, server, widget, fake_llm):
    fake_llm.enqueue(Behaviour(chunks=["It ", "opens ", "at nine."]))
    opened = _open(server, widget)
    result = asgi_post(
        f"{BASE}/{opened['id']}/messages",
        {"text": "When do you open?"},
        {
            "host": tenant_a.host,
            "authorization": f"Bearer {key.secret}",
            "accept": "text/event-stream",
        },
    )
    assert result.status == 200 and result.headers["content-type"].startswith("text/event-stream")
    events = result.events()
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "message" and kinds[1] == "typing" and kinds[-1] == "done"
    assert set(kinds[2:-1]) == {"delta"}
    assert "".join(data["text"] for kind, data in events if kind == "delta") == "It opens at nine."
    done = events[-1][1]
    assert done["outcome"] == "answered" and done["message"]["text"] == "It opens at nine."
    assert [m.text for m in _stored(tenant_a, opened["id"])] == ["When do you open?", "It opens at nine."]


def test_over_quota_the_user_gets_the_fallback_and_no_provider_call(tenant_a, server, widget, fake_llm):
    UsageCounterFactory(tenant=tenant_a.tenant, metric="ai_answers", value=100)  # Free: 100 answers
    opened = _open(server, widget)
    answer = _post(server, f"{BASE}/{opened['id']}/messages", {"text": "Hello?"}).json()["answer"]
    assert answer["outcome"] == "over_quota" and answer["handoff"] is True
    assert fake_llm.requests == []


def test_asking_for_a_person_hands_the_conversation_off(tenant_a, server, widget, fake_llm):
    opened = _open(server, widget)
    answer = _post(server, f"{BASE}/{opened['id']}/messages", {"text": "Can I speak to a real person?"})
    assert answer.status_code == 201, answer.content
    assert answer.json()["answer"]["outcome"] == "handoff" and fake_llm.requests == []
    with tenant_context(tenant_a.tenant):
        conversation = Conversation.objects.get(pk=opened["id"])
    assert conversation.status == Conversation.Status.WAITING and conversation.handoff_requested_at


def test_the_visitor_api_sees_the_same_conversation(tenant_a, server, widget, fake_llm):
    opened = _open(server, widget)
    _post(server, f"{BASE}/{opened['id']}/messages", {"text": "From the app"})
    with tenant_context(tenant_a.tenant):
        contact = Contact.objects.get(public_id=opened["contact"]["id"])
    token, _ = visitor_token_issue(
        tenant_id=tenant_a.tenant.pk, widget_id=widget.pk, contact_public_id=contact.public_id
    )
    connection.set_schema_to_public()
    headers = {"HTTP_HOST": PUBLIC_HOST, "HTTP_ORIGIN": ORIGIN, "HTTP_AUTHORIZATION": f"Bearer {token}"}
    messages_path = f"/api/widget/v1/{widget.key}/conversations/{opened['id']}/messages"
    seen = Client().get(messages_path, **headers)
    assert seen.status_code == 200, seen.content
    assert [m["role"] for m in seen.json()["messages"]] == ["visitor", "bot"]
    sent = Client().post(
        messages_path, {"text": "From the widget"}, content_type="application/json", **headers
    )
    assert sent.status_code == 201, sent.content
    connection.set_schema_to_public()
    workspace = _client(tenant_a, tenant_a.owner).get(f"/api/v1/conversations/{opened['id']}/messages").json()
    assert [m["text"] for m in workspace["messages"] if m["role"] == "visitor"] == [
        "From the app",
        "From the widget",
    ]


def test_bad_input_is_422_per_field(tenant_a, tenant_b, server, widget, fake_llm):
    assert set(_errors(_post(server, BASE, {}))) == {"widget_id", "external_id"}
    too_long = {"widget_id": "x", "external_id": "u" * 201, "email": "nope"}
    assert set(_errors(_post(server, BASE, too_long))) == {"widget_id", "external_id", "email"}
    with tenant_context(tenant_b.tenant):  # each workspace numbers its own widgets
        theirs = WidgetFactory(name="theirs")
    with tenant_context(tenant_a.tenant):
        assert not Widget.objects.filter(pk=theirs.pk).exists()
    assert _errors(_post(server, BASE, {"widget_id": theirs.pk, "external_id": "u"}))["widget_id"]
    opened = _open(server, widget)
    path = f"{BASE}/{opened['id']}/messages"
    assert _errors(_post(server, path, {}))["text"][0]["code"] == "required"
    assert _errors(_post(server, path, {"text": "  "}))["text"][0]["code"] == "blank"
    assert _errors(_post(server, path, {"text": "x" * 4001}))["text"][0]["code"] == "max_length"
    assert _stored(tenant_a, opened["id"]) == []


def test_a_resolved_conversation_takes_no_message(tenant_a, server, widget, fake_llm):
    opened = _open(server, widget)
    with tenant_context(tenant_a.tenant):
        Conversation.objects.filter(pk=opened["id"]).update(status=Conversation.Status.CLOSED)
    response = _post(server, f"{BASE}/{opened['id']}/messages", {"text": "Hello?"})
    assert response.status_code == 409 and response.json()["code"] == "conversation_closed"


def test_only_conversations_opened_for_an_identified_user_take_messages(
    tenant_a, tenant_b, server, widget, fake_llm
):
    with tenant_context(tenant_a.tenant):
        anonymous = ConversationFactory(widget=widget, contact=ContactFactory(widget=widget))
    with tenant_context(tenant_b.tenant):
        theirs_widget = Widget.objects.order_by("id").first()
        theirs = ConversationFactory(
            widget=theirs_widget,
            contact=ContactFactory(widget=theirs_widget, external_id="user-42", identity_verified=True),
        )
    for conversation_id in (anonymous.pk, theirs.pk, 999999):
        response = _post(server, f"{BASE}/{conversation_id}/messages", {"text": "hi"})
        assert response.status_code == 404 and response["Content-Type"] == PROBLEM
        assert server.get(f"{BASE}/{conversation_id}/messages").status_code == 404
    assert _stored(tenant_a, anonymous.pk) == [] and _stored(tenant_b, theirs.pk) == []


@pytest.mark.parametrize(
    "caller", ["owner", "admin", "agent", "key:admin", "key:agent", "stranger", "anonymous"]
)
def test_role_matrix(tenant_a, tenant_b, server, widget, fake_llm, caller):
    opened = _open(server, widget)
    if caller.startswith("key:"):
        client = _client(tenant_a, secret=ApiKeyFactory(tenant=tenant_a.tenant, role=caller[4:]).secret)
    elif caller == "stranger":
        client = _client(tenant_a, tenant_b.owner)
    elif caller == "anonymous":
        client = _client(tenant_a)
    elif caller == "owner":
        client = _client(tenant_a, tenant_a.owner)
    else:
        client = _client(tenant_a, MembershipFactory(tenant=tenant_a.tenant, role=caller).user)
    responses = [
        _post(client, BASE, {"widget_id": widget.pk, "external_id": "user-7"}),
        _post(client, f"{BASE}/{opened['id']}/messages", {"text": "hi"}),
        client.get(f"{BASE}/{opened['id']}/messages"),
    ]
    expected = {"anonymous": 401, "stranger": 404, "key:admin": 201, "key:agent": 201}.get(caller, 403)
    for response in responses:
        wanted = 200 if expected == 201 and response.wsgi_request.method == "GET" else expected
        assert response.status_code == wanted, (caller, response.content)
        if expected >= 400:
            assert response["Content-Type"] == PROBLEM


def test_openapi_schema_documents_the_chat_endpoints_and_their_events(tenant_a, tmp_path):
    call_command(
        "spectacular", "--urlconf", "saas.urls_tenant", "--validate", "--fail-on-warn",
        "--file", str(tmp_path / "schema.yml"),
    )  # fmt: skip
    connection.set_schema_to_public()
    schema = _client(tenant_a).get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert schema["paths"][BASE]["post"]["operationId"] == "chat_conversations_create"
    send = schema["paths"][BASE + "/{conversation_id}/messages"]["post"]
    assert set(send["responses"]["200"]["content"]) == {"application/json", "text/event-stream"}
    for event in ("`message`", "`typing`", "`delta`", "`done`", "`pending`", "`error`"):
        assert event in send["description"], event


def test_every_conversation_contact_and_chat_operation_has_an_example(tenant_a):
    connection.set_schema_to_public()
    schema = _client(tenant_a).get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    prefixes = ("/api/v1/conversations", "/api/v1/contacts", "/api/v1/chat/")
    operations = [
        (path, method, operation)
        for path, item in schema["paths"].items()
        if path.startswith(prefixes)
        for method, operation in item.items()
        if method in ("get", "post", "patch")
    ]
    # 14, the conversation's DELETE left out (no body, 204), a contact's export and erasure.
    assert len(operations) == 16
    for path, method, operation in operations:
        bodies = [operation.get("requestBody", {}), *operation["responses"].values()]
        media = [m for body in bodies for kind, m in body.get("content", {}).items() if kind.endswith("json")]
        if path.endswith("/export"):  # a ZIP file answers, shown by no example
            continue
        assert any(m.get("examples") for m in media), (method, path)


def test_a_retried_open_with_an_idempotency_key_opens_one_conversation(tenant_a, server, widget, fake_llm):
    body = {"widget_id": widget.pk, "external_id": "user-9"}
    first = _post(server, BASE, body, HTTP_IDEMPOTENCY_KEY="open-user-9")
    again = _post(server, BASE, body, HTTP_IDEMPOTENCY_KEY="open-user-9")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json()["id"] == first.json()["id"]
    with tenant_context(tenant_a.tenant):
        assert Conversation.objects.filter(contact__external_id="user-9").count() == 1


def test_reading_the_messages_leaves_private_notes_out(tenant_a, server, widget, fake_llm):
    opened = _open(server, widget)
    path = f"{BASE}/{opened['id']}/messages"
    _post(server, path, {"text": "Where is my order?"})
    owner = _client(tenant_a, tenant_a.owner)
    conversation_path = f"/api/v1/conversations/{opened['id']}/messages"
    assert _post(owner, conversation_path, {"text": "NOTE-SECRET", "private": True}).status_code == 201
    assert _post(owner, conversation_path, {"text": "Sam here, it ships today."}).status_code == 201
    read = server.get(path)
    assert read.status_code == 200 and "NOTE-SECRET" not in read.content.decode()
    body = read.json()
    assert [m["role"] for m in body["messages"] if m["role"] != "system"] == ["visitor", "bot", "agent"]
    assert body["status"] == "agent" and body["awaiting_answer_after"] is None
    after = server.get(f"{path}?after={body['messages'][-1]['seq'] - 1}").json()["messages"]
    assert [m["text"] for m in after] == ["Sam here, it ships today."]
    assert _errors(server.get(f"{path}?after=-1"))["after"]


def test_a_streamed_send_retried_with_its_keys_is_answered_once(tenant_a, key, server, widget, fake_llm):
    opened = _open(server, widget)
    path = f"{BASE}/{opened['id']}/messages"
    body = {"text": "When do you open?", "client_message_id": "m-7"}
    headers = {
        "host": tenant_a.host,
        "authorization": f"Bearer {key.secret}",
        "accept": "text/event-stream",
        "idempotency-key": "send-7",
    }
    streamed = asgi_post(path, body, headers)
    done = streamed.events()[-1]
    assert done[0] == "done"
    # A stream is not kept for replay: the retry runs, and the client_message_id answers it.
    again = _post(server, path, body, HTTP_IDEMPOTENCY_KEY="send-7")
    assert again.status_code == 200, again.content
    assert again.json()["answer"]["message"]["seq"] == done[1]["message"]["seq"]
    assert len(fake_llm.requests) == 1 and len(_stored(tenant_a, opened["id"])) == 2


def test_answers_carry_citations_and_automations_answer_first(
    tenant_a, server, widget, fake_llm, monkeypatch
):
    monkeypatch.setattr(
        "knowledge.retrieval.retrieve", lambda *, query, knowledge_base_ids=None, limit=5: PASSAGES
    )
    with tenant_context(tenant_a.tenant):
        AutomationRuleFactory(
            widget=widget, kind="keyword", name="Prices", pattern="price", reply="See /pricing."
        )
    opened = _open(server, widget)
    path = f"{BASE}/{opened['id']}/messages"
    fake_llm.enqueue(Behaviour(text="Orders ship within 2 business days [1]."))
    answered = _post(server, path, {"text": "When will my order ship?"}).json()["answer"]
    assert answered["outcome"] == "answered"
    assert [c["title"] for c in answered["message"]["citations"]] == ["Shipping policy"]
    automated = _post(server, path, {"text": "What is the price?"}).json()["answer"]
    assert automated["message"]["text"] == "See /pricing." and len(fake_llm.requests) == 1
