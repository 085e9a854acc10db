"""chat.widget_api.actions: what visitors do around answers: feedback, closing and rating
(CSAT), the handoff to a person, and the transcript emailed only to an address from the
form or a verified identity."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from chat.models import Conversation, Message
from tests.chat.factories import AutomationRuleFactory
from tests.chat.visitors import make_visitor

pytestmark = pytest.mark.django_db


def test_feedback_on_answers(client, visitor, fake_llm):
    answer = visitor.send(client, "Hello").json()["answer"]["message"]
    down = visitor.post(
        client, f"messages/{answer['seq']}/feedback", {"rating": "down", "comment": "Not helpful"}
    )
    assert down.status_code == 200 and down.json()["feedback"] == -1
    with tenant_context(visitor.tenant):
        stored = Message.objects.get(conversation=visitor.conversation, seq=answer["seq"])
    assert stored.feedback_rating == -1 and stored.feedback_comment == "Not helpful" and stored.feedback_at
    assert (
        visitor.post(client, f"messages/{answer['seq']}/feedback", {"rating": "up"}).json()["feedback"] == 1
    )
    assert (
        visitor.post(client, "messages/1/feedback", {"rating": "up"}).status_code == 404
    )  # the visitor's own
    assert visitor.post(client, f"messages/{answer['seq']}/feedback", {"rating": "meh"}).status_code == 422


def test_closing_then_rating_the_conversation(client, visitor):
    assert visitor.post(client, "rating", {"score": 5}).status_code == 409  # not closed yet
    closed = visitor.post(client, "close")
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert visitor.post(client, "rating", {"score": 6}).status_code == 422
    rated = visitor.post(client, "rating", {"score": 4, "comment": "Quick and clear"})
    assert rated.status_code == 200 and rated.json()["csat_score"] == 4
    with tenant_context(visitor.tenant):
        conversation = Conversation.objects.get(pk=visitor.conversation.pk)
    assert conversation.csat_comment == "Quick and clear" and conversation.closed_at and conversation.csat_at
    assert visitor.send(client, "Hello again").json()["code"] == "conversation_closed"


def test_handoff_stops_the_bot_and_its_automations(client, visitor, fake_llm):
    with tenant_context(visitor.tenant):
        AutomationRuleFactory(widget=visitor.widget, kind="keyword", name="Hi", pattern="there", reply="Bot!")
    response = visitor.post(client, "handoff")
    assert response.status_code == 200 and response.json()["status"] == "waiting"
    assert response.json()["messages"][0]["role"] == "system"
    assert visitor.post(client, "handoff").json()["messages"] == []  # once
    answer = visitor.send(client, "Are you there?").json()["answer"]
    assert answer["outcome"] == "with_agent" and fake_llm.requests == []


@pytest.fixture
def tasks_run_here(monkeypatch):
    """Queued tasks run in this thread, in the schema active when queued, after the commit
    (in-process mode uses a daemon thread with its own connection; tests need this one)."""
    from django.db import connection, transaction
    from django_tenants.utils import schema_context

    def enqueue(task, *args, **kwargs):
        schema = connection.schema_name

        def run():
            with schema_context(schema):
                task.apply(args=args, kwargs=kwargs)

        transaction.on_commit(run)

    monkeypatch.setattr("chat.services.conversations.enqueue_on_commit", enqueue)


def test_transcript_is_emailed_escaped_to_the_prechat_email(
    client, visitor, mailoutbox, django_capture_on_commit_callbacks, tasks_run_here
):
    visitor.send(client, "<script>alert(1)</script> my order?")
    with django_capture_on_commit_callbacks(execute=True):
        response = visitor.post(client, "transcript")
    assert response.status_code == 202 and response.json()["sent_to"] == "a…@example.com"
    (mail,) = mailoutbox
    assert mail.to == ["ada@example.com"] and "<script>alert(1)</script> my order?" in mail.body
    html = mail.alternatives[0][0]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html
    with tenant_context(visitor.tenant):
        assert Conversation.objects.get(pk=visitor.conversation.pk).transcript_sent_at is not None


def test_transcript_needs_a_known_email_and_is_rate_limited(client, tenant_a, settings, tasks_run_here):
    anonymous = make_visitor(tenant_a, email="")
    assert anonymous.post(client, "transcript").json()["code"] == "email_unknown"
    settings.CHAT_RATE_LIMITS = {**settings.CHAT_RATE_LIMITS, "transcripts_per_hour": 1}
    visitor = make_visitor(tenant_a)
    assert [visitor.post(client, "transcript").status_code for _ in range(2)] == [202, 429]


def test_transcripts_go_only_to_addresses_from_the_form_or_a_verified_identity(client, tenant_a, settings):
    labelled = make_visitor(tenant_a, email="")
    identify = client.post(
        f"/api/widget/v1/{labelled.widget.key}/identify",
        {"id": "someone", "email": "victim@example.org"},
        content_type="application/json",
        **labelled.headers(),
    )
    assert identify.status_code == 200 and identify.json()["verified"] is False
    assert labelled.post(client, "transcript").json()["code"] == "email_unknown"

    settings.CHAT_RATE_LIMITS = {**settings.CHAT_RATE_LIMITS, "transcripts_per_recipient_per_day": 2}
    senders = [make_visitor(tenant_a, email="same@example.org") for _ in range(3)]
    assert [v.post(client, "transcript").status_code for v in senders] == [202, 202, 429]
