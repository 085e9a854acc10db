"""Reads of the widget API, always scoped to the widget and the visitor asking.
Preconditions: the tenant's schema is active."""

from __future__ import annotations

import uuid

from widget_builder.models import Widget

from .. import answering
from ..models import Attachment, Contact, Conversation, Message

CONVERSATIONS_LISTED = 50
MESSAGES_LISTED = 200


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def visitor_contact(*, widget: Widget, public_id: str) -> Contact | None:
    parsed = _uuid(public_id)
    return None if parsed is None else Contact.objects.filter(public_id=parsed, widget=widget).first()


def visitor_conversations(*, widget: Widget, contact: Contact) -> list[Conversation]:
    """The visitor's own conversations, newest first."""
    return list(Conversation.objects.filter(widget=widget, contact=contact)[:CONVERSATIONS_LISTED])


def visitor_conversation(*, widget: Widget, contact: Contact, conversation_id: int) -> Conversation | None:
    return Conversation.objects.filter(pk=conversation_id, widget=widget, contact=contact).first()


def conversation_messages(*, conversation: Conversation, after: int) -> list[Message]:
    """What the visitor may see after ``after``, oldest first: never private notes."""
    return list(
        Message.objects.filter(conversation=conversation, seq__gt=after)
        .exclude(role__in=Message.VISITOR_HIDDEN)
        .order_by("seq")[:MESSAGES_LISTED]
    )


def conversation_awaiting_answer(conversation: Conversation) -> int | None:
    """The number of the visitor message whose answer is being written right now (a
    reconnecting widget shows typing and polls); None when nothing is under way."""
    pending = (
        Message.objects.filter(conversation=conversation, role=Message.Role.VISITOR, reply__isnull=True)
        .order_by("-seq")
        .values_list("pk", "seq")
        .first()
    )
    if pending is None or not answering.answer_in_progress(pending[0]):
        return None
    return pending[1]


def conversation_answer(*, conversation: Conversation, seq: int) -> Message | None:
    """A bot answer of the conversation, by its number."""
    return Message.objects.filter(conversation=conversation, seq=seq, role=Message.Role.BOT).first()


def conversation_attachment(*, conversation: Conversation, public_id: str) -> Attachment | None:
    parsed = _uuid(public_id)
    if parsed is None:
        return None
    return Attachment.objects.filter(conversation=conversation, public_id=parsed).first()
