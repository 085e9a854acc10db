"""Data for the retention tests: conversations of tenant A whose last activity is a given
time ago, with a contact seen then and, on demand, an attachment with a stored file."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from chat.models import Attachment, Contact, Conversation, Message
from chat.services.attachments import attachment_add
from tenants.models import Tenant
from tests.chat.factories import ContactFactory, ConversationFactory, MessageFactory
from widget_builder.models import Widget

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def conversation_at(
    last_activity: datetime, *, attachment: bool = False, messages: bool = True, text: str = "hello"
) -> Conversation:
    """A conversation (in the active schema) last active at ``last_activity`` (its messages
    and attachment written then), its contact last seen then."""
    widget = Widget.objects.order_by("id").first()
    conversation = ConversationFactory(widget=widget, contact=ContactFactory(widget=widget))
    if messages:
        MessageFactory(conversation=conversation, role=Message.Role.VISITOR, text=text)
    if attachment:
        attachment_add(
            conversation=conversation,
            upload=SimpleUploadedFile("shot.png", PNG),
            text="",
            kinds=["image"],
            max_mb=1,
        )
    Conversation.objects.filter(pk=conversation.pk).update(
        created_at=last_activity, last_message_at=last_activity if messages else None
    )
    Message.objects.filter(conversation=conversation).update(created_at=last_activity)
    Attachment.objects.filter(conversation=conversation).update(created_at=last_activity)
    Contact.objects.filter(pk=conversation.contact_id).update(
        created_at=last_activity, last_seen_at=last_activity
    )
    conversation.refresh_from_db()
    return conversation


def plan_set(tenant: Tenant, code: str) -> None:
    Tenant.objects.filter(pk=tenant.pk).update(plan=code)
    tenant.plan = code


@pytest.fixture
def run_callbacks(django_capture_on_commit_callbacks):
    """Run the on-commit work (files removed) of what the block does, as a commit would."""

    def capture():
        return django_capture_on_commit_callbacks(execute=True)

    return capture
