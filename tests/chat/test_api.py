"""chat.apis, the tenant REST API for conversations: listing with filters and cursors,
messages with private notes, replies (idempotent), notes, assignment and status; roles,
API keys, visibility, another workspace's ids, problem details, the OpenAPI schema."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from chat.models import AgentProfile, Conversation, InboxSettings, Message
from tenants.models import Membership
from tenants.services.api_keys import api_key_revoke
from tests.chat.factories import ContactFactory, ConversationFactory, MessageFactory
from tests.chat.visitors import make_visitor
from tests.tenants.factories import ApiKeyFactory, MembershipFactory
from tests.widget_builder.factories import WidgetFactory
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"
BASE = "/api/v1/conversations"


def _client(tenant, user=None, secret=None) -> Client:
    client = Client(HTTP_HOST=tenant.host)
    if user is not None:
        client.force_login(user)
    if secret is not None:
        client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    return client


def _post(client, path, body):
    return client.post(path, json.dumps(body), content_type="application/json")


def _conversation(seeded, **fields) -> Conversation:
    with tenant_context(seeded.tenant):
        widget = fields.pop("widget", None) or Widget.objects.order_by("id").first()
        contact = ContactFactory(widget=widget, name="Ada", email="ada@example.com")
        return ConversationFactory(widget=widget, contact=contact, **fields)


def _message(seeded, conversation, role=Message.Role.VISITOR, text="Hello"):
    with tenant_context(seeded.tenant):
        return MessageFactory(conversation=conversation, role=role, text=text)


def _reload(seeded, conversation) -> Conversation:
    with tenant_context(seeded.tenant):
        return Conversation.objects.get(pk=conversation.pk)


def _rows(seeded, conversation) -> list[Message]:
    """The conversation's messages, without the system lines ("Ana joined the conversation")."""
    with tenant_context(seeded.tenant):
        rows = Message.objects.filter(conversation=conversation).exclude(role=Message.Role.SYSTEM)
        return list(rows.order_by("seq"))


def _errors(response) -> dict:
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == PROBLEM
    return response.json()["errors"]


# --- reading -------------------------------------------------------------------------------


def test_list_shows_this_workspaces_conversations_only(tenant_a, tenant_b):
    response = _client(tenant_a, tenant_a.owner).get(BASE)
    assert response.status_code == 200
    body = response.json()
    assert len(body["results"]) == tenant_a.conversation_count and body["next_cursor"] is None
    assert "MARKER-B" not in response.content.decode()
    first = body["results"][0]
    assert {"id", "status", "assignee_user_id", "unread", "contact", "widget_id", "last_seq"} <= set(first)


def test_a_conversation_shows_the_title_its_visitor_gave_it(tenant_a):
    titled = _conversation(tenant_a, title="Refund for order 1042")
    owner = _client(tenant_a, tenant_a.owner)
    assert owner.get(f"{BASE}/{titled.pk}").json()["title"] == "Refund for order 1042"
    rows = {row["id"]: row for row in owner.get(f"{BASE}?page_size=100").json()["results"]}
    assert rows[titled.pk]["title"] == "Refund for order 1042"
    assert all(row["title"] == "" for pk, row in rows.items() if pk != titled.pk)


def test_list_filters(tenant_a):
    owner = _client(tenant_a, tenant_a.owner)
    mine = _conversation(tenant_a, status=Conversation.Status.AGENT, assignee_user_id=tenant_a.owner.pk)
    waiting = _conversation(tenant_a, status=Conversation.Status.WAITING)
    with tenant_context(tenant_a.tenant):
        second_widget = WidgetFactory(name="second")
    elsewhere = _conversation(tenant_a, widget=second_widget)

    def ids(query):
        response = owner.get(f"{BASE}?{query}")
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids("status=waiting") == {waiting.pk}
    assert ids("assignee=me") == {mine.pk}
    assert ids(f"assignee={tenant_a.owner.pk}") == {mine.pk}
    assert mine.pk not in ids("assignee=none") and waiting.pk in ids("assignee=none")
    assert ids(f"widget={second_widget.pk}") == {elsewhere.pk}
    later = (timezone.now() + timedelta(hours=1)).isoformat()
    assert ids("updated_since=" + later.replace("+", "%2B")) == set()
    assert {mine.pk, waiting.pk, elsewhere.pk} <= ids("updated_since=2000-01-01T00:00:00Z")


def test_list_pages_with_a_cursor(tenant_a):
    made = {_conversation(tenant_a).pk for _ in range(5)}
    owner = _client(tenant_a, tenant_a.owner)
    seen: list[int] = []
    path = f"{BASE}?limit=2"
    for _ in range(10):
        body = owner.get(path).json()
        seen += [row["id"] for row in body["results"]]
        if body["next_cursor"] is None:
            break
        path = f"{BASE}?limit=2&cursor={body['next_cursor']}"
    assert len(seen) == len(set(seen)) == tenant_a.conversation_count + 5
    assert made <= set(seen)


def test_bad_filters_are_422_per_field(tenant_a):
    owner = _client(tenant_a, tenant_a.owner)
    errors = _errors(
        owner.get(f"{BASE}?status=nope&assignee=someone&widget=x&updated_since=yesterday&cursor=zzz&limit=0")
    )
    assert set(errors) == {"status", "assignee", "widget", "updated_since", "cursor", "limit"}
    assert errors["status"][0]["code"] == "invalid_choice"
    assert _errors(owner.get(f"{BASE}?limit=101"))["limit"][0]["code"] == "max_value"


def test_detail_and_messages_with_notes(tenant_a):
    conversation = _conversation(tenant_a)
    _message(tenant_a, conversation, text="Where is my order?")
    _message(tenant_a, conversation, role=Message.Role.NOTE, text="VIP customer")
    owner = _client(tenant_a, tenant_a.owner)
    detail = owner.get(f"{BASE}/{conversation.pk}")
    assert detail.status_code == 200 and detail.json()["id"] == conversation.pk
    assert detail.json()["contact"]["name"] == "Ada"
    messages = owner.get(f"{BASE}/{conversation.pk}/messages").json()
    assert [(m["seq"], m["role"], m["private"]) for m in messages["messages"]] == [
        (1, "visitor", False),
        (2, "note", True),
    ]
    assert messages["has_more"] is False
    after = owner.get(f"{BASE}/{conversation.pk}/messages?after=1").json()["messages"]
    assert [m["text"] for m in after] == ["VIP customer"]
    assert _errors(owner.get(f"{BASE}/{conversation.pk}/messages?after=-1"))["after"]


def test_another_workspaces_conversation_is_404(tenant_a, tenant_b):
    theirs = _conversation(tenant_b)
    _message(tenant_b, theirs, text="MARKER-B secret")
    owner = _client(tenant_a, tenant_a.owner)
    paths = [f"{BASE}/{theirs.pk}", f"{BASE}/{theirs.pk}/messages"]
    for path in paths:
        response = owner.get(path)
        assert response.status_code == 404 and response.json()["code"] == "not_found", path
    writes = [
        ("messages", {"text": "hi"}),
        ("messages", {"text": "note", "private": True}),
        ("assign", {"assignee_user_id": None}),
        ("status", {"status": "resolved"}),
    ]
    for suffix, body in writes:
        response = _post(owner, f"{BASE}/{theirs.pk}/{suffix}", body)
        assert response.status_code == 404 and "MARKER-B" not in response.content.decode(), suffix
    assert [m.text for m in _rows(tenant_b, theirs)] == ["MARKER-B secret"]
    assert _reload(tenant_b, theirs).status == Conversation.Status.BOT


# --- writing -------------------------------------------------------------------------------


def test_agent_reply_takes_the_conversation(tenant_a):
    conversation = _conversation(tenant_a, status=Conversation.Status.WAITING)
    agent = MembershipFactory(tenant=tenant_a.tenant, role="agent").user
    response = _post(_client(tenant_a, agent), f"{BASE}/{conversation.pk}/messages", {"text": " On my way "})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["role"] == "agent" and body["text"] == "On my way" and body["private"] is False
    assert body["author_user_id"] == agent.pk and body["author_name"]
    after = _reload(tenant_a, conversation)
    assert after.status == Conversation.Status.AGENT and after.assignee_user_id == agent.pk


def test_client_message_id_stores_a_reply_once(tenant_a):
    conversation = _conversation(tenant_a)
    owner = _client(tenant_a, tenant_a.owner)
    path = f"{BASE}/{conversation.pk}/messages"
    first = _post(owner, path, {"text": "Hi there", "client_message_id": "c-1"})
    again = _post(owner, path, {"text": "Hi there", "client_message_id": "c-1"})
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["seq"] == again.json()["seq"]
    assert [m.text for m in _rows(tenant_a, conversation)] == ["Hi there"]
    reused = _post(owner, path, {"text": "Something else", "client_message_id": "c-1"})
    assert reused.status_code == 422 and reused.json()["code"] == "client_message_id_reused"


def test_message_validation_is_422_per_field(tenant_a):
    conversation = _conversation(tenant_a)
    owner = _client(tenant_a, tenant_a.owner)
    path = f"{BASE}/{conversation.pk}/messages"
    assert _errors(_post(owner, path, {}))["text"][0]["code"] == "required"
    assert _errors(_post(owner, path, {"text": "   "}))["text"][0]["code"] == "blank"
    assert _errors(_post(owner, path, {"text": "x" * 4001}))["text"][0]["code"] == "max_length"
    assert "private" in _errors(_post(owner, path, {"text": "hi", "private": "perhaps"}))
    note_with_id = _post(owner, path, {"text": "n", "private": True, "client_message_id": "x"})
    assert "client_message_id" in _errors(note_with_id)
    assert _rows(tenant_a, conversation) == []


def test_a_note_never_reaches_the_visitor(tenant_a):
    visitor = make_visitor(tenant_a)
    owner = _client(tenant_a, tenant_a.owner)
    path = f"{BASE}/{visitor.conversation.pk}/messages"
    note = _post(owner, path, {"text": "NOTE-SECRET: refund approved", "private": True})
    assert note.status_code == 201 and note.json()["role"] == "note" and note.json()["private"] is True
    reply = _post(owner, path, {"text": "Your refund is on its way"})
    assert reply.status_code == 201
    connection.set_schema_to_public()
    seen = Client().get(visitor.messages_path, **visitor.headers())
    assert seen.status_code == 200
    assert "NOTE-SECRET" not in seen.content.decode()
    assert [m["role"] for m in seen.json()["messages"] if m["role"] != "system"] == ["agent"]
    workspace = owner.get(path).json()["messages"]
    assert [m["role"] for m in workspace if m["role"] != "system"] == ["note", "agent"]


def test_an_api_key_writes_under_its_name(tenant_a):
    conversation = _conversation(tenant_a)
    key = ApiKeyFactory(tenant=tenant_a.tenant, name="Helpdesk sync", role="agent")
    by_key = _client(tenant_a, secret=key.secret)
    response = _post(by_key, f"{BASE}/{conversation.pk}/messages", {"text": "From the helpdesk"})
    assert response.status_code == 201, response.content
    assert response.json()["author_name"] == "Helpdesk sync" and response.json()["author_user_id"] is None
    (stored,) = _rows(tenant_a, conversation)
    assert stored.author_name == "Helpdesk sync" and stored.author_user_id is None
    assert "assignee" in _errors(by_key.get(f"{BASE}?assignee=me"))


def test_an_api_key_reply_assigns_nobody(tenant_a):
    """A key is no person: its replies make the conversation a person's without giving it
    to anybody, and a reply on a conversation already a person's writes no assignment."""
    conversation = _conversation(tenant_a, status=Conversation.Status.WAITING)
    key = ApiKeyFactory(tenant=tenant_a.tenant, name="Helpdesk sync", role="agent")
    by_key = _client(tenant_a, secret=key.secret)
    path = f"{BASE}/{conversation.pk}/messages"
    assert _post(by_key, path, {"text": "First"}).status_code == 201
    after = _reload(tenant_a, conversation)
    assert after.status == Conversation.Status.AGENT
    assert after.assignee_user_id is None and after.assigned_at is None
    with CaptureQueriesContext(connection) as queries:
        assert _post(by_key, path, {"text": "Second"}).status_code == 201
    conversation_updates = [
        q["sql"] for q in queries.captured_queries if q["sql"].startswith('UPDATE "chat_conversation"')
    ]
    # Only the read mark; the append's own UPDATE is part of its INSERT statement.
    assert len(conversation_updates) == 1 and "agent_read_seq" in conversation_updates[0], queries
    assert _reload(tenant_a, conversation).assigned_at is None


def test_assign_and_unassign(tenant_a, tenant_b):
    conversation = _conversation(tenant_a, status=Conversation.Status.WAITING)
    agent = MembershipFactory(tenant=tenant_a.tenant, role="agent").user
    owner = _client(tenant_a, tenant_a.owner)
    path = f"{BASE}/{conversation.pk}/assign"
    assigned = _post(owner, path, {"assignee_user_id": agent.pk})
    assert assigned.status_code == 200, assigned.content
    assert assigned.json()["assignee_user_id"] == agent.pk
    assert _reload(tenant_a, conversation).assignee_user_id == agent.pk
    stranger = _post(owner, path, {"assignee_user_id": tenant_b.owner.pk})
    assert _errors(stranger)["assignee_user_id"][0]["code"] == "not_a_member"
    assert _errors(_post(owner, path, {}))["assignee_user_id"][0]["code"] == "required"
    assert _errors(_post(owner, path, {"assignee_user_id": "x"}))["assignee_user_id"]
    unassigned = _post(owner, path, {"assignee_user_id": None})
    assert unassigned.status_code == 200 and unassigned.json()["assignee_user_id"] is None
    assert _reload(tenant_a, conversation).assignee_user_id is None


def test_status_changes(tenant_a):
    conversation = _conversation(
        tenant_a, status=Conversation.Status.AGENT, assignee_user_id=tenant_a.owner.pk
    )
    owner = _client(tenant_a, tenant_a.owner)
    path = f"{BASE}/{conversation.pk}/status"
    resolved = _post(owner, path, {"status": "resolved"})
    assert resolved.status_code == 200 and resolved.json()["status"] == "closed"
    reopened = _post(owner, path, {"status": "open"})
    assert reopened.status_code == 200 and reopened.json()["status"] != "closed"
    pending = _post(owner, path, {"status": "pending"})
    assert pending.status_code == 200 and pending.json()["status"] == "pending"
    until = timezone.now() + timedelta(hours=2)
    snoozed = _post(owner, path, {"snoozed_until": until.isoformat()})
    assert snoozed.status_code == 200, snoozed.content
    assert snoozed.json()["status"] == "pending" and snoozed.json()["snoozed_until"]
    assert _reload(tenant_a, conversation).snoozed_until is not None
    to_bot = _post(owner, path, {"status": "bot"})
    assert to_bot.status_code == 200 and to_bot.json()["status"] == "bot"


def test_status_validation(tenant_a):
    conversation = _conversation(tenant_a)
    owner = _client(tenant_a, tenant_a.owner)
    path = f"{BASE}/{conversation.pk}/status"
    assert _errors(_post(owner, path, {"status": "closed"}))["status"][0]["code"] == "invalid_choice"
    assert _errors(_post(owner, path, {}))["status"][0]["code"] == "required"
    past = (timezone.now() - timedelta(minutes=1)).isoformat()
    assert "snoozed_until" in _errors(_post(owner, path, {"snoozed_until": past}))
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    assert "snoozed_until" in _errors(_post(owner, path, {"status": "pending", "snoozed_until": future}))
    assert "snoozed_until" in _errors(_post(owner, path, {"snoozed_until": "soon"}))
    assert _reload(tenant_a, conversation).status == Conversation.Status.BOT


# --- who may --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "caller", ["owner", "admin", "agent", "key:admin", "key:agent", "stranger", "anonymous"]
)
def test_role_matrix(tenant_a, tenant_b, caller):
    conversation = _conversation(tenant_a)
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
    calls = [
        ("get", BASE, None),
        ("get", f"{BASE}/{conversation.pk}", None),
        ("get", f"{BASE}/{conversation.pk}/messages", None),
        ("post", f"{BASE}/{conversation.pk}/messages", {"text": "hi"}),
        ("post", f"{BASE}/{conversation.pk}/messages", {"text": "note", "private": True}),
        ("post", f"{BASE}/{conversation.pk}/assign", {"assignee_user_id": tenant_a.owner.pk}),
        ("post", f"{BASE}/{conversation.pk}/status", {"status": "resolved"}),
    ]
    expected = {"anonymous": {401}, "stranger": {404}}.get(caller, {200, 201})
    for method, path, body in calls:
        response = client.get(path) if body is None else _post(client, path, body)
        assert response.status_code in expected, (caller, method, path, response.status_code)
        if response.status_code >= 400:
            assert response["Content-Type"] == PROBLEM


def test_a_revoked_key_or_another_workspaces_key_writes_nothing(tenant_a, tenant_b):
    conversation = _conversation(tenant_a)
    owner_membership = Membership.objects.get(tenant=tenant_a.tenant, user=tenant_a.owner)
    key = ApiKeyFactory(tenant=tenant_a.tenant, role="admin")
    api_key_revoke(key=key, by=owner_membership)
    theirs = ApiKeyFactory(tenant=tenant_b.tenant, role="admin")
    for secret in (key.secret, theirs.secret):
        response = _post(
            _client(tenant_a, secret=secret), f"{BASE}/{conversation.pk}/messages", {"text": "x"}
        )
        assert response.status_code == 401 and response["Content-Type"] == PROBLEM
    assert _rows(tenant_a, conversation) == []


def test_agents_see_only_their_widgets_when_the_workspace_says_so(tenant_a):
    with tenant_context(tenant_a.tenant):
        first = Widget.objects.order_by("id").first()
        second = WidgetFactory(name="sales")
    theirs = _conversation(tenant_a, widget=first)
    hidden = _conversation(tenant_a, widget=second)
    agent = MembershipFactory(tenant=tenant_a.tenant, role="agent").user
    admin = MembershipFactory(tenant=tenant_a.tenant, role="admin").user
    with tenant_context(tenant_a.tenant):
        InboxSettings.objects.update_or_create(defaults={"visibility": InboxSettings.Visibility.WIDGETS})
        AgentProfile.objects.create(user_id=agent.pk).widgets.set([first])
    as_agent = _client(tenant_a, agent)
    listed = {row["id"] for row in as_agent.get(BASE).json()["results"]}
    assert theirs.pk in listed and hidden.pk not in listed
    assert as_agent.get(f"{BASE}/{hidden.pk}").status_code == 404
    assert _post(as_agent, f"{BASE}/{hidden.pk}/messages", {"text": "hi"}).status_code == 404
    assert _rows(tenant_a, hidden) == []
    admin_sees = {row["id"] for row in _client(tenant_a, admin).get(BASE).json()["results"]}
    assert {theirs.pk, hidden.pk} <= admin_sees


def test_openapi_schema_lists_the_conversation_endpoints(tenant_a, tmp_path):
    call_command(
        "spectacular",
        "--urlconf",
        "saas.urls_tenant",
        "--validate",
        "--fail-on-warn",
        "--file",
        str(tmp_path / "schema.yml"),
    )
    connection.set_schema_to_public()
    schema = _client(tenant_a).get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path in (
        BASE,
        BASE + "/{conversation_id}",
        BASE + "/{conversation_id}/messages",
        BASE + "/{conversation_id}/assign",
        BASE + "/{conversation_id}/status",
    ):
        assert path in schema["paths"], path
    send = schema["paths"][BASE + "/{conversation_id}/messages"]["post"]
    assert {"200", "201", "404", "422"} <= set(send["responses"])
