"""What visitors do around answers: limits, feedback, CSAT, handoff, transcripts, attachments."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django_tenants.utils import tenant_context

from chat.models import Attachment, Conversation, Message
from tests.chat.visitors import make_visitor

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_long_messages_are_refused_before_any_llm_call(client, visitor, fake_llm):
    too_long = visitor.send(client, "x" * 4001)
    assert too_long.status_code == 422 and too_long.json()["errors"]["text"][0]["code"] == "too_long"
    huge = visitor.send(client, "x" * 70_000)
    assert huge.status_code == 413 and huge.json()["code"] == "payload_too_large"
    assert fake_llm.requests == []
    with tenant_context(visitor.tenant):
        assert not Message.objects.filter(conversation=visitor.conversation).exists()


def test_message_rates_per_visitor_and_per_widget(client, tenant_a, fake_llm, settings):
    settings.CHAT_RATE_LIMITS = {**settings.CHAT_RATE_LIMITS, "visitor_messages_per_minute": 2}
    visitor = make_visitor(tenant_a)
    statuses = [visitor.send(client, f"question {i}").status_code for i in range(3)]
    assert statuses == [201, 201, 429]
    limited = visitor.send(client, "again")
    assert limited.json()["code"] == "rate_limited" and int(limited["Retry-After"]) > 0
    assert make_visitor(tenant_a).send(client, "another visitor").status_code == 201

    settings.CHAT_RATE_LIMITS = {**settings.CHAT_RATE_LIMITS, "widget_messages_per_minute": 3}
    assert make_visitor(tenant_a).send(client, "one more for the widget").status_code == 429
    assert len(fake_llm.requests) == 3  # refused messages never reach the provider


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
    from chat.models import AutomationRule

    with tenant_context(visitor.tenant):
        AutomationRule.objects.create(
            widget=visitor.widget, kind="keyword", name="Hi", pattern="there", reply="Bot!"
        )
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


def _upload(client, visitor, name: str, data: bytes, **extra):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        visitor.path("attachments"),
        {"file": SimpleUploadedFile(name, data, content_type="image/png"), "text": "See attached"},
        **visitor.headers(**extra),
    )


def test_attachments_are_checked_by_content_stored_under_the_tenant_and_served_as_downloads(client, visitor):
    assert _upload(client, visitor, "shot.png", PNG).json()["code"] == "attachment_refused"  # off by default
    visitor.bot(attachment_kinds=["image", "pdf"], attachment_max_mb=1)
    disguised = _upload(client, visitor, "shot.png", b"<html><script>alert(1)</script></html>")
    assert disguised.status_code == 422 and disguised.json()["code"] == "attachment_refused"
    too_big = _upload(client, visitor, "big.png", PNG + b"\x00" * (1024 * 1024))
    assert too_big.status_code == 413

    ok = _upload(client, visitor, "../../etc/passwd shot.png", PNG)
    assert ok.status_code == 201, ok.content
    message = ok.json()
    (meta,) = message["attachments"]
    assert (
        meta["content_type"] == "image/png"
        and meta["name"] == "passwd shot.png"
        and message["text"] == "See attached"
    )
    with tenant_context(visitor.tenant):
        attachment = Attachment.objects.get(public_id=meta["id"])
        assert attachment.message.seq == message["seq"]
        assert default_storage.exists(attachment.file.name)
        path = default_storage.path(attachment.file.name) if hasattr(default_storage, "path") else ""
    assert f"tenants/{visitor.tenant.schema_name}/" in path or attachment.file.name.startswith("chat/")

    download = client.get(visitor.path(f"attachments/{meta['id']}"), **visitor.headers())
    assert download.status_code == 200 and b"".join(download.streaming_content) == PNG
    assert (
        download["X-Content-Type-Options"] == "nosniff"
        and download["Content-Type"] == "application/octet-stream"
    )
    assert download["Content-Disposition"].startswith("attachment;")

    stranger = make_visitor(visitor.tenant)
    stranger.conversation = visitor.conversation  # another visitor, same conversation id
    assert client.get(stranger.path(f"attachments/{meta['id']}"), **stranger.headers()).status_code == 404


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
