"""chat.widget_api.conversations: several conversations per visitor. The list (newest
activity first, a page at a time, with title, preview, status and unread count), opening
one, starting, renaming and deleting one (the visitor's own erasure: messages, attachments,
stored files, an audit event without personal data); another visitor's or another
workspace's conversation is 404; bad input and oversized bodies are problem details."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from django_tenants.utils import tenant_context

from audit.models import AuditEvent
from chat.models import Attachment, Conversation, Message
from chat.services import message_append
from tests.chat.factories import AttachmentFactory, ConversationFactory, MessageFactory
from tests.chat.visitors import Visitor, make_visitor

pytestmark = pytest.mark.django_db


def _url(visitor: Visitor, suffix: str = "") -> str:
    return f"/api/widget/v1/{visitor.widget.key}/conversations{suffix}"


def _list(client, visitor: Visitor, query: str = ""):
    return client.get(_url(visitor) + query, **visitor.headers())


def _conversation(client, visitor: Visitor, conversation_id: int, method: str = "get", body=None, **extra):
    call = getattr(client, method)
    kwargs = {"content_type": "application/json"} if body is not None else {}
    return call(_url(visitor, f"/{conversation_id}"), body, **kwargs, **visitor.headers(**extra))


def _at(conversation: Conversation, minutes_ago: int) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(
        updated_at=timezone.now() - dt.timedelta(minutes=minutes_ago)
    )


def test_the_list_is_the_visitors_own_newest_activity_first_with_title_preview_and_unread(client, visitor):
    with tenant_context(visitor.tenant):
        older = visitor.conversation
        MessageFactory(
            conversation=older, role="visitor", text="  Do you   ship to\nCanada and to the US? " * 3
        )
        MessageFactory(conversation=older, role="bot", text="Yes, we ship to Canada.")
        MessageFactory(conversation=older, role="agent", text="Hi, Sam here.", author_name="Sam")
        MessageFactory(conversation=older, role="note", text="private: VIP customer")
        message_append(conversation=older, role="agent", text="Anything else?")
        _at(older, 30)
        newer = ConversationFactory(widget=visitor.widget, contact=visitor.contact, title="Returns")
        _at(newer, 5)
        empty = ConversationFactory(widget=visitor.widget, contact=visitor.contact)
        _at(empty, 60)
        make_visitor(visitor.tenant)  # another visitor's conversation: never listed here

    body = _list(client, visitor).json()
    listed = body["conversations"]
    assert [c["id"] for c in listed] == [newer.pk, older.pk, empty.pk] and body["next_cursor"] is None
    assert listed[0]["title"] == "Returns" and listed[0]["title_source"] == "custom"
    assert listed[0]["last_message"] is None and listed[0]["unread_count"] == 0
    first = listed[1]
    assert first["title_source"] == "first_message"
    assert first["title"].startswith("Do you ship to Canada and to the US? Do you") and first[
        "title"
    ].endswith("…")
    assert len(first["title"]) <= 60
    # The last message the visitor may see (never the private note), two agent messages unread.
    assert first["last_message"] == {"seq": 5, "role": "agent", "text": "Anything else?"}
    assert first["unread_count"] == 2 and first["status"] == "bot"
    assert listed[2]["title_source"] == "date"
    assert listed[2]["title"] == f"Conversation on {empty.created_at.date().isoformat()}"

    read = client.post(
        _url(visitor, f"/{older.pk}/read"), {"seq": 4}, content_type="application/json", **visitor.headers()
    )
    assert read.status_code == 200, read.content
    assert _list(client, visitor).json()["conversations"][1]["unread_count"] == 1


def test_the_list_comes_a_page_at_a_time_in_one_query(client, visitor, django_assert_num_queries):
    with tenant_context(visitor.tenant):
        _at(visitor.conversation, 100)
        made = [ConversationFactory(widget=visitor.widget, contact=visitor.contact) for _ in range(4)]
        for minutes, conversation in enumerate(made):
            MessageFactory(conversation=conversation, role="visitor", text=f"question {minutes}")
            _at(conversation, minutes)
    seen, cursor, pages = [], "", 0
    while True:
        body = _list(client, visitor, f"?limit=2{cursor}").json()
        seen += [c["id"] for c in body["conversations"]]
        pages += 1
        if not body["next_cursor"]:
            break
        cursor = f"&cursor={body['next_cursor']}"
    assert seen == [c.pk for c in made] + [visitor.conversation.pk] and pages == 3

    # The widget's row, the contact, the page (with its previews and counts): however many rows.
    _list(client, visitor)  # caches warm
    with django_assert_num_queries(3):
        assert len(_list(client, visitor).json()["conversations"]) == 5


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?limit=0", "limit"),
        ("?limit=51", "limit"),
        ("?limit=x", "limit"),
        ("?cursor=not-a-cursor", "cursor"),
    ],
)
def test_bad_list_parameters_are_problem_details(client, visitor, query, field):
    response = _list(client, visitor, query)
    assert response.status_code == 422 and response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "validation_error" and field in response.json()["errors"]


def test_opening_one_gives_its_summary_state_and_messages(client, visitor):
    with tenant_context(visitor.tenant):
        MessageFactory(conversation=visitor.conversation, role="visitor", text="Where is my order?")
        MessageFactory(conversation=visitor.conversation, role="note", text="private: check the warehouse")
        MessageFactory(conversation=visitor.conversation, role="agent", text="On its way.", author_name="Sam")
    response = _conversation(client, visitor, visitor.conversation.pk)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == visitor.conversation.pk and body["title"] == "Where is my order?"
    assert [(m["seq"], m["role"]) for m in body["messages"]] == [(1, "visitor"), (3, "agent")]
    assert body["last_seq"] == 3 and body["unread_count"] == 1 and body["awaiting_answer_after"] is None
    assert set(body["attachments"]) == {"kinds", "max_mb"} and body["status"] == "bot"


def test_starting_one_answers_with_its_summary(client, visitor):
    response = client.post(_url(visitor), {}, content_type="application/json", **visitor.headers())
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["title_source"] == "date" and body["unread_count"] == 0 and body["messages"] == []
    listed = _list(client, visitor).json()["conversations"]
    assert [c["id"] for c in listed][:1] == [body["id"]] and len(listed) == 2


def test_renaming_one_stores_the_title_without_moving_it_in_the_list(client, visitor):
    with tenant_context(visitor.tenant):
        _at(visitor.conversation, 10)
        before = Conversation.objects.get(pk=visitor.conversation.pk).updated_at
    renamed = _conversation(
        client, visitor, visitor.conversation.pk, "patch", {"title": "  My   parcel\tto Berlin  "}
    )
    assert renamed.status_code == 200, renamed.content
    assert renamed.json()["title"] == "My parcel to Berlin" and renamed.json()["title_source"] == "custom"
    with tenant_context(visitor.tenant):
        stored = Conversation.objects.get(pk=visitor.conversation.pk)
        assert stored.title == "My parcel to Berlin" and stored.updated_at == before
    # Empty: the default title again.
    reset = _conversation(client, visitor, visitor.conversation.pk, "patch", {"title": ""})
    assert reset.status_code == 200 and reset.json()["title_source"] == "date"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "required"),
        ({"title": "x" * 121}, "max_length"),
        ({"title": None}, "null"),
        ({"title": ["a"]}, "invalid"),
    ],
)
def test_bad_titles_are_refused_per_field(client, visitor, body, code):
    response = _conversation(client, visitor, visitor.conversation.pk, "patch", body)
    assert response.status_code == 422 and response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "validation_error"
    assert response.json()["errors"]["title"][0]["code"] == code
    with tenant_context(visitor.tenant):
        assert Conversation.objects.get(pk=visitor.conversation.pk).title == ""


def test_oversized_malformed_and_deep_bodies_are_refused_before_parsing(client, visitor):
    path = _url(visitor, f"/{visitor.conversation.pk}")
    huge = client.patch(
        path, '{"title": "' + "x" * 5000 + '"}', content_type="application/json", **visitor.headers()
    )
    assert huge.status_code == 413 and huge.json()["code"] == "payload_too_large"
    broken = client.patch(path, '{"title": ', content_type="application/json", **visitor.headers())
    assert broken.status_code == 400 and broken.json()["code"] == "parse_error"
    deep = client.patch(path, "[" * 40 + "]" * 40, content_type="application/json", **visitor.headers())
    assert deep.status_code == 400 and deep.json()["code"] == "json_too_deep"


def test_deleting_one_removes_its_messages_attachments_and_files_and_is_audited(
    client, visitor, django_capture_on_commit_callbacks
):
    with tenant_context(visitor.tenant):
        question = MessageFactory(conversation=visitor.conversation, role="visitor", text="See my invoice")
        attachment = AttachmentFactory(message=question)
        stored_name = attachment.file.name
        assert default_storage.exists(stored_name)
        kept = ConversationFactory(widget=visitor.widget, contact=visitor.contact)
        MessageFactory(conversation=kept, role="visitor", text="Another question")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = _conversation(client, visitor, visitor.conversation.pk, "delete")
        assert response.status_code == 204 and response.content == b""
        with tenant_context(visitor.tenant):
            assert not Conversation.objects.filter(pk=visitor.conversation.pk).exists()
            assert not Message.objects.filter(conversation_id=visitor.conversation.pk).exists()
            assert not Attachment.objects.filter(pk=attachment.pk).exists()
            assert Message.objects.filter(conversation=kept).count() == 1  # the other one stays
            event = AuditEvent.objects.get(action="conversation.deleted")
        assert not default_storage.exists(stored_name)
    finally:
        if default_storage.exists(stored_name):
            default_storage.delete(stored_name)
    assert event.actor_kind == "system" and event.actor_label == "" and event.ip_address is None
    assert (
        event.target_id == str(visitor.conversation.pk)
        and event.target_repr == f"Conversation {visitor.conversation.pk}"
    )
    assert event.metadata == {
        "by": "visitor",
        "widget_id": visitor.widget.pk,
        "conversations": 1,
        "messages": 1,
        "attachments": 1,
    }
    # Nothing the visitor wrote or is known by reaches the audit log.
    assert "invoice" not in str(event.metadata) and visitor.contact.email not in event.target_repr
    assert _conversation(client, visitor, visitor.conversation.pk, "delete").status_code == 404
    assert [c["id"] for c in _list(client, visitor).json()["conversations"]] == [kept.pk]


def test_another_visitors_and_another_workspaces_conversations_are_not_found(client, visitor, tenant_b):
    stranger = make_visitor(visitor.tenant)
    other_workspace = make_visitor(tenant_b)
    with tenant_context(tenant_b.tenant):
        # A number no conversation of tenant A has (schemas number their rows apart).
        ConversationFactory(pk=visitor.conversation.pk + 100_000, widget=other_workspace.widget)
        other_workspace.conversation = Conversation.objects.get(pk=visitor.conversation.pk + 100_000)
    for foreign in (stranger.conversation.pk, other_workspace.conversation.pk, 999_999):
        for method, body in (("get", None), ("patch", {"title": "mine now"}), ("delete", None)):
            response = _conversation(client, visitor, foreign, method, body)
            assert response.status_code == 404, (foreign, method)
            assert response.json()["code"] == "not_found" and str(foreign) not in response.content.decode()
    with tenant_context(visitor.tenant):
        assert Conversation.objects.filter(pk=stranger.conversation.pk, title="").exists()
    with tenant_context(tenant_b.tenant):
        assert Conversation.objects.filter(pk=other_workspace.conversation.pk).exists()
    # Tenant B's visitor token on tenant A's widget: 401, nothing read.
    foreign_token = client.get(
        _url(visitor), **{**visitor.headers(), "HTTP_AUTHORIZATION": f"Bearer {other_workspace.token}"}
    )
    assert foreign_token.status_code == 401


def test_browsers_may_rename_and_delete_from_the_customers_site(client, visitor):
    preflight = client.options(
        _url(visitor, f"/{visitor.conversation.pk}"),
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="PATCH",
        **{**visitor.headers(), "HTTP_AUTHORIZATION": ""},
    )
    assert (
        preflight.status_code == 204
        and preflight["Access-Control-Allow-Origin"] == "https://customer.example"
    )
    assert preflight["Access-Control-Allow-Methods"] == "GET, PATCH, DELETE, OPTIONS"
    listing = client.options(_url(visitor), **{**visitor.headers(), "HTTP_AUTHORIZATION": ""})
    assert listing["Access-Control-Allow-Methods"] == "GET, POST, OPTIONS"


def test_the_conversation_calls_need_the_visitors_token(client, visitor):
    for method in ("get", "patch", "delete"):
        response = getattr(client, method)(
            _url(visitor, f"/{visitor.conversation.pk}"), **{**visitor.headers(), "HTTP_AUTHORIZATION": ""}
        )
        assert response.status_code == 401 and response.json()["code"] == "visitor_token_invalid"
    with tenant_context(visitor.tenant):
        assert Conversation.objects.filter(pk=visitor.conversation.pk).exists()


def test_the_conversation_calls_are_rate_limited_per_visitor(client, visitor, settings):
    settings.WIDGET_RATE_LIMITS = {**settings.WIDGET_RATE_LIMITS, "visitor_per_minute": 2}
    statuses = [_conversation(client, visitor, visitor.conversation.pk).status_code for _ in range(3)]
    assert statuses[:2] == [200, 200] and statuses[2] == 429
    limited = _conversation(client, visitor, visitor.conversation.pk, "delete")
    assert limited.status_code == 429 and "Retry-After" in limited
    with tenant_context(visitor.tenant):
        assert Conversation.objects.filter(pk=visitor.conversation.pk).exists()


def test_renames_and_deletes_have_an_hourly_limit_per_visitor(client, visitor, settings):
    settings.CHAT_RATE_LIMITS = {**settings.CHAT_RATE_LIMITS, "conversation_edits_per_hour": 2}
    with tenant_context(visitor.tenant):
        spare = ConversationFactory(widget=visitor.widget, contact=visitor.contact)
    assert (
        _conversation(client, visitor, visitor.conversation.pk, "patch", {"title": "One"}).status_code == 200
    )
    assert _conversation(client, visitor, spare.pk, "delete").status_code == 204
    limited = _conversation(client, visitor, visitor.conversation.pk, "delete")
    assert (
        limited.status_code == 429
        and limited.json()["code"] == "rate_limited"
        and int(limited["Retry-After"]) > 60
    )
    assert (
        _conversation(client, visitor, visitor.conversation.pk).status_code == 200
    )  # reading is not an edit
    with tenant_context(visitor.tenant):
        assert Conversation.objects.filter(pk=visitor.conversation.pk).exists()
    # Another visitor has a limit of their own.
    other = make_visitor(visitor.tenant)
    assert _conversation(client, other, other.conversation.pk, "patch", {"title": "Mine"}).status_code == 200
