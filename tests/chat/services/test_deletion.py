"""chat.services.deletion: a deleted conversation takes its messages, attachments and their
stored files with it, after the commit; a rolled-back delete keeps its files; a second run
removes nothing."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django_tenants.utils import tenant_context

from chat.models import Attachment, Conversation, Message
from chat.services import Removed, conversations_delete
from chat.services.attachments import attachment_add
from tests.chat.factories import ContactFactory, ConversationFactory, MessageFactory
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def conversations(tenant_a):
    with tenant_context(tenant_a.tenant):
        widget = Widget.objects.order_by("id").first()
        made = []
        for _ in range(2):
            conversation = ConversationFactory(widget=widget, contact=ContactFactory(widget=widget))
            MessageFactory(conversation=conversation, role=Message.Role.VISITOR, text="hello")
            attachment_add(
                conversation=conversation,
                upload=SimpleUploadedFile("shot.png", PNG),
                text="",
                kinds=["image"],
                max_mb=1,
            )
            made.append(conversation)
        yield made


def test_rows_and_files_go_after_the_commit(conversations, django_capture_on_commit_callbacks):
    first, second = conversations
    name = Attachment.objects.get(conversation=first).file.name
    assert default_storage.exists(name)
    with django_capture_on_commit_callbacks(execute=True):
        removed = conversations_delete(conversation_ids=[first.pk])
    assert removed == Removed(conversations=1, messages=2, attachments=1)
    assert not Conversation.objects.filter(pk=first.pk).exists()
    assert not Message.objects.filter(conversation_id=first.pk).exists()
    assert not default_storage.exists(name)
    # The other conversation and its file are untouched.
    assert default_storage.exists(Attachment.objects.get(conversation=second).file.name)
    with django_capture_on_commit_callbacks(execute=True):
        assert conversations_delete(conversation_ids=[first.pk]) == Removed()


def test_a_rolled_back_delete_keeps_the_files(conversations, django_capture_on_commit_callbacks):
    first, _ = conversations
    name = Attachment.objects.get(conversation=first).file.name
    captured = django_capture_on_commit_callbacks(execute=True)
    with captured as callbacks, pytest.raises(RuntimeError), transaction.atomic():
        conversations_delete(conversation_ids=[first.pk])
        raise RuntimeError("the caller's transaction fails")
    assert callbacks == []
    assert Conversation.objects.filter(pk=first.pk).exists()
    assert default_storage.exists(name)


def test_what_hangs_off_the_messages_goes_and_what_points_in_from_outside_is_cleared(
    conversations, django_capture_on_commit_callbacks
):
    """Rows of other apps cascade with the messages (answer timings, flagged questions);
    a message of a conversation that stays and points at a deleted one is set null."""
    from insights.models import AnswerTiming
    from quality.models import FlaggedQuestion

    first, second = conversations
    question = Message.objects.filter(conversation=first).order_by("seq").first()
    answer = MessageFactory(conversation=first, role=Message.Role.BOT, text="hi", reply_to=question)
    AnswerTiming.objects.create(message=answer, first_token_ms=300, full_ms=900)
    FlaggedQuestion.objects.create(message=question)
    stray = MessageFactory(conversation=second, role=Message.Role.BOT, text="odd")
    other = Message.objects.filter(conversation=first).order_by("seq").last()  # the attachment's
    Message.objects.filter(pk=stray.pk).update(reply_to=other)  # not made by the app; still safe
    with django_capture_on_commit_callbacks(execute=True):
        removed = conversations_delete(conversation_ids=[first.pk])
    assert removed == Removed(conversations=1, messages=3, attachments=1)
    assert not AnswerTiming.objects.filter(message_id=answer.pk).exists()
    assert not FlaggedQuestion.objects.filter(message_id=question.pk).exists()
    stray.refresh_from_db()
    assert stray.reply_to_id is None
    assert Message.objects.filter(conversation=second).count() == 3
