"""chat.services.attachments: a visitor's file, its row and its message are stored together,
or nothing is (not even the file)."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from chat.attachments import AttachmentRefused
from chat.models import Attachment, Conversation, Message
from chat.services.attachments import attachment_add
from chat.services.conversations import conversation_close
from chat.services.messages import ConversationClosed
from tests.chat.factories import ContactFactory, ConversationFactory
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def conversation(tenant_a):
    with tenant_context(tenant_a.tenant):
        widget = Widget.objects.order_by("id").first()
        yield ConversationFactory(widget=widget, contact=ContactFactory(widget=widget))


def _files(conversation_id: int) -> list[str]:
    try:
        return default_storage.listdir(f"chat/attachments/{conversation_id}")[1]
    except FileNotFoundError:
        return []


def _add(conversation, data: bytes = PNG, **kwargs) -> Message:
    return attachment_add(
        conversation=conversation,
        upload=SimpleUploadedFile("../shot.png", data),
        text=kwargs.pop("text", "See attached"),
        kinds=kwargs.pop("kinds", ["image"]),
        max_mb=1,
    )


def test_the_file_is_stored_with_its_row_and_its_message(conversation):
    message = _add(conversation, text="x" * 5000)
    attachment = Attachment.objects.get(conversation=conversation)
    assert attachment.message_id == message.pk and message.role == "visitor" and message.seq == 1
    assert len(message.text) == 4000  # a caption is cut, never refused
    assert message.attachments == [
        {"id": str(attachment.public_id), "name": "shot.png", "content_type": "image/png", "size": len(PNG)}
    ]
    with attachment.file.open("rb") as stored:
        assert stored.read() == PNG
    assert _files(conversation.pk) == [attachment.file.name.rsplit("/", 1)[-1]]


def test_a_refused_file_or_a_closed_conversation_stores_nothing(conversation):
    with pytest.raises(AttachmentRefused):
        _add(conversation, b"<svg onload=alert(1)>")
    with pytest.raises(AttachmentRefused):
        _add(conversation, kinds=[])
    conversation_close(conversation=conversation)
    with pytest.raises(ConversationClosed):
        _add(conversation)
    assert not Attachment.objects.filter(conversation=conversation).exists()
    assert not Message.objects.filter(conversation=conversation).exists()
    assert _files(conversation.pk) == []


def test_when_the_row_cannot_be_stored_the_message_and_the_file_go_too(conversation, monkeypatch):
    def refuse(self, *args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(Attachment, "save", refuse)
    with pytest.raises(RuntimeError):
        _add(conversation)
    assert not Message.objects.filter(conversation=conversation).exists()
    assert Conversation.objects.get(pk=conversation.pk).last_seq == 0
    assert _files(conversation.pk) == []


def test_when_the_conversation_is_gone_the_file_is_removed(conversation):
    Conversation.objects.filter(pk=conversation.pk).delete()  # deleted meanwhile (retention, an agent)
    with pytest.raises(Conversation.DoesNotExist):
        _add(conversation)
    assert not Attachment.objects.filter(conversation_id=conversation.pk).exists()
    assert _files(conversation.pk) == []
