"""Each event type is emitted by its domain action, through the real services, after the
commit: one test per type, each with an endpoint subscribed to every type. Private notes
and system lines are not sent."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from chat.models import Message
from chat.services.contacts import contact_identify, contact_prechat_submit, contact_start
from chat.services.conversations import (
    conversation_close,
    conversation_handoff,
    conversation_rate,
    conversation_start,
)
from chat.services.inbox import agent_note_add, agent_reply_send, conversation_assign, conversation_resolve
from chat.services.messages import message_append, message_feedback, visitor_message_send
from knowledge import ingestion
from knowledge.models import KnowledgeBase
from knowledge.services import source_add_file, source_add_text
from tests.chat.factories import ConversationFactory
from tests.tenants.factories import MembershipFactory
from webhooks.models import Event
from webhooks.payloads import EVENT_TYPES
from widget_builder.models import Widget
from widget_builder.services import widget_prechat_set, widget_publish

from .conftest import endpoint_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def everything(ws, receiver):
    return endpoint_for(receiver.url, *sorted(EVENT_TYPES))


@pytest.fixture
def emitted(django_capture_on_commit_callbacks):
    """Run ``action`` and its after-commit work; the events it stored, as (type, body)."""

    def run(action):
        before = set(Event.objects.values_list("pk", flat=True))
        with django_capture_on_commit_callbacks(execute=True):
            result = action()
        events = Event.objects.exclude(pk__in=before).order_by("pk")
        return result, [(e.type, json.loads(e.body)) for e in events]

    return run


def _widget() -> Widget:
    return Widget.objects.order_by("id").first()


def _conversation():
    return ConversationFactory(widget=_widget(), contact=contact_start(widget=_widget()))


def _types(events) -> list[str]:
    return [t for t, _ in events]


def test_conversation_created(everything, emitted):
    widget = _widget()
    contact = contact_start(widget=widget)
    (conversation, _), events = emitted(lambda: conversation_start(widget=widget, contact=contact))
    [body] = [b for t, b in events if t == "conversation.created"]
    assert body["data"]["conversation"]["id"] == conversation.pk
    assert body["data"]["conversation"]["contact"]["id"] == str(contact.public_id)
    assert body["data"]["conversation"]["status"] == "bot" and body["data"]["conversation"]["csat"] is None


def test_message_created_for_visitor_bot_and_agent_never_for_notes(everything, emitted, ws):
    conversation = _conversation()
    agent = MembershipFactory(tenant=ws.tenant, role="agent").user
    _, visitor = emitted(lambda: visitor_message_send(conversation=conversation, text="Hello"))
    _, bot = emitted(lambda: message_append(conversation=conversation, role=Message.Role.BOT, text="Hi!"))
    _, reply = emitted(lambda: agent_reply_send(conversation=conversation, user=agent, text="Agent here"))
    _, note = emitted(lambda: agent_note_add(conversation=conversation, user=agent, text="secret note"))
    sent = [b["data"]["message"] for t, b in visitor + bot + reply if t == "message.created"]
    assert [(m["role"], m["text"]) for m in sent] == [
        ("visitor", "Hello"),
        ("bot", "Hi!"),
        ("agent", "Agent here"),
    ]
    assert sent[0]["conversation_id"] == conversation.pk and sent[0]["id"]
    assert "message.created" not in _types(note) and "secret note" not in json.dumps(note)


def test_conversation_handoff_requested(everything, emitted):
    conversation = _conversation()
    _, events = emitted(lambda: conversation_handoff(conversation=conversation))
    [body] = [b for t, b in events if t == "conversation.handoff_requested"]
    assert body["data"]["conversation"]["status"] == "waiting"
    assert "message.created" not in _types(events)  # the system line is not a message sent


def test_conversation_assigned(everything, emitted, ws):
    conversation = _conversation()
    agent = MembershipFactory(tenant=ws.tenant, role="agent").user
    _, events = emitted(
        lambda: conversation_assign(conversation=conversation, assignee_user_id=agent.pk, by=ws.owner)
    )
    [body] = [b for t, b in events if t == "conversation.assigned"]
    assert body["data"]["conversation"]["assignee_user_id"] == agent.pk
    assert body["data"]["by_user_id"] == ws.owner.pk


def test_conversation_resolved(everything, emitted, ws):
    conversation = _conversation()
    _, events = emitted(lambda: conversation_resolve(conversation=conversation, by=ws.owner))
    [body] = [b for t, b in events if t == "conversation.resolved"]
    assert body["data"]["conversation"]["status"] == "closed" and body["data"]["conversation"]["closed_at"]


def test_conversation_rated(everything, emitted):
    conversation = _conversation()
    conversation_close(conversation=conversation)
    _, events = emitted(lambda: conversation_rate(conversation=conversation, score=5, comment="Great"))
    [body] = [b for t, b in events if t == "conversation.rated"]
    assert body["data"]["conversation"]["csat"] == {"score": 5, "comment": "Great"}


def test_message_feedback(everything, emitted):
    conversation = _conversation()
    answer, _ = message_append(conversation=conversation, role=Message.Role.BOT, text="An answer")
    _, events = emitted(lambda: message_feedback(message=answer, rating=-1, comment="Wrong"))
    [body] = [b for t, b in events if t == "message.feedback"]
    assert (
        body["data"]["message"]["feedback"] == -1 and body["data"]["message"]["feedback_comment"] == "Wrong"
    )


def test_contact_created(everything, emitted):
    contact, events = emitted(lambda: contact_start(widget=_widget(), page_url="https://shop.example/"))
    [body] = [b for t, b in events if t == "contact.created"]
    assert body["data"]["contact"]["id"] == str(contact.public_id)
    assert body["data"]["contact"]["page_url"] == "https://shop.example/"


def test_contact_updated_when_a_lead_is_captured(everything, emitted):
    widget = _widget()
    widget_prechat_set(
        widget=widget,
        enabled=True,
        fields=[{"kind": "name", "label": "Name"}, {"kind": "email", "label": "Email", "required": True}],
    )
    widget = widget_publish(widget=widget)
    contact = contact_start(widget=widget)
    _, events = emitted(
        lambda: contact_prechat_submit(
            contact=contact,
            widget=widget,
            answers={"name": "Ada", "email": "ada@example.com"},
            elapsed_ms=5000,
        )
    )
    [body] = [b for t, b in events if t == "contact.updated"]
    assert body["data"]["contact"]["email"] == "ada@example.com" and body["data"]["contact"]["name"] == "Ada"


def test_contact_updated_when_identified(everything, emitted):
    widget = _widget()
    contact = contact_start(widget=widget)
    _, events = emitted(
        lambda: contact_identify(contact=contact, widget=widget, user_id="u-1", email="bo@example.com")
    )
    [body] = [b for t, b in events if t == "contact.updated"]
    assert body["data"]["contact"]["external_id"] == "u-1"


@pytest.fixture
def no_background_ingestion(monkeypatch):
    monkeypatch.setattr("knowledge.services.enqueue_on_commit", lambda *a, **k: None)


def test_knowledge_source_ingested(everything, emitted, ws, no_background_ingestion):
    kb = KnowledgeBase.objects.order_by("id").first()
    source = source_add_text(tenant=ws.tenant, kb=kb, title="Guide", text="# Returns\n\nWithin 30 days.")
    _, events = emitted(lambda: ingestion.source_ingest(source.pk))
    [body] = [b for t, b in events if t == "knowledge.source.ingested"]
    assert body["data"]["source"]["id"] == source.pk and body["data"]["source"]["status"] == "ready"


def test_knowledge_source_failed(everything, emitted, ws, no_background_ingestion):
    kb = KnowledgeBase.objects.order_by("id").first()
    upload = SimpleUploadedFile("report.pdf", b"%PDF-1.7\n" + b"\x00garbage" * 50)
    source = source_add_file(tenant=ws.tenant, kb=kb, upload=upload)
    _, events = emitted(lambda: ingestion.source_ingest(source.pk))
    [body] = [b for t, b in events if t == "knowledge.source.failed"]
    assert body["data"]["source"]["status"] == "failed" and body["data"]["source"]["error"]


def test_nothing_is_stored_when_no_endpoint_subscribes(ws, emitted, receiver):
    endpoint_for(receiver.url, "knowledge.source.failed")
    _, events = emitted(lambda: contact_start(widget=_widget()))
    assert events == []


def test_a_failing_emission_never_breaks_the_domain_action(everything, emitted, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("webhooks down")

    monkeypatch.setattr("webhooks.receivers.event_emit", broken)
    contact, events = emitted(lambda: contact_start(widget=_widget()))
    assert contact.pk and events == []


def test_an_endpoint_added_or_changed_is_seen_at_once_by_the_next_event(ws, emitted, receiver, settings):
    """The subscribed types are cached per workspace; every change to endpoints forgets them."""
    from webhooks import services
    from webhooks.models import Endpoint

    _, none = emitted(lambda: contact_start(widget=_widget()))  # caches "nobody listens"
    endpoint = endpoint_for(receiver.url, "contact.created")
    _, one = emitted(lambda: contact_start(widget=_widget()))
    services.endpoint_update(endpoint=endpoint, url=receiver.url, event_types=["contact.updated"])
    _, changed = emitted(lambda: contact_start(widget=_widget()))
    services.endpoint_update(endpoint=endpoint, url=receiver.url, event_types=["contact.created"])
    services.endpoint_disable(endpoint=endpoint)
    _, disabled = emitted(lambda: contact_start(widget=_widget()))
    services.endpoint_enable(endpoint=Endpoint.objects.get())
    _, enabled = emitted(lambda: contact_start(widget=_widget()))
    assert (none, changed, disabled) == ([], [], [])
    assert _types(one) == _types(enabled) == ["contact.created"]


def test_knowledge_source_failed_when_the_reaper_gives_up(everything, emitted, settings):
    from datetime import timedelta

    from django.utils import timezone

    from knowledge import runs
    from knowledge.models import Source
    from tests.knowledge.factories import SourceFactory

    settings.KNOWLEDGE_INGEST_MAX_ATTEMPTS = 3
    source = SourceFactory(knowledge_base=KnowledgeBase.objects.order_by("id").first(), title="Hours")
    run = runs.run_issue(source.pk)
    stale = timezone.now() - timedelta(minutes=10)
    Source.objects.filter(pk=source.pk).update(status="processing", attempts=3, heartbeat_at=stale)
    _, events = emitted(lambda: runs.run_reap(source.pk, run, 3))
    [body] = [b for t, b in events if t == "knowledge.source.failed"]
    assert body["data"]["source"]["id"] == source.pk and body["data"]["source"]["error"].startswith(
        "Processing"
    )
