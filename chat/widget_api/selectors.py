"""Reads of the widget API, always scoped to the widget and the visitor asking.
Preconditions: the tenant's schema is active."""

from __future__ import annotations

import uuid

from django.db.models import Count, IntegerField, JSONField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, JSONObject, Left

from widget_builder.models import Widget

from .. import answering
from ..models import Attachment, Contact, Conversation, Message

MESSAGES_LISTED = 200
# What the list shows of a conversation's last message, and of its first visitor message
# when that names it (the title the visitor did not choose).
PREVIEW_CHARS = 160
DEFAULT_TITLE_CHARS = 60


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def visitor_contact(*, widget: Widget, public_id: str) -> Contact | None:
    parsed = _uuid(public_id)
    return None if parsed is None else Contact.objects.filter(public_id=parsed, widget=widget).first()


def visitor_conversations(*, widget: Widget, contact: Contact) -> QuerySet[Conversation]:
    """The visitor's own conversations (page them newest activity first, ``-updated_at``),
    each with what the widget's list shows: ``last_message`` (``{seq, role, text}`` cut at
    :data:`PREVIEW_CHARS`, never a private note), ``first_visitor_text`` (for the default
    title) and ``unread_count`` (agents' messages after the visitor's read receipt: the bot's
    answers arrive while the visitor watches). One query per page, whatever its length."""
    visible = Message.objects.filter(conversation=OuterRef("pk")).exclude(role__in=Message.VISITOR_HIDDEN)
    last = visible.order_by("-seq").values(
        json=JSONObject(seq="seq", role="role", text=Left("text", PREVIEW_CHARS))
    )[:1]
    first_visitor = (
        visible.filter(role=Message.Role.VISITOR).order_by("seq").values(cut=Left("text", PREVIEW_CHARS))[:1]
    )
    unread = (
        Message.objects.filter(
            conversation=OuterRef("pk"), role=Message.Role.AGENT, seq__gt=OuterRef("visitor_read_seq")
        )
        .order_by()
        .values("conversation")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Conversation.objects.filter(widget=widget, contact=contact).annotate(
        last_message=Subquery(last, output_field=JSONField()),
        first_visitor_text=Subquery(first_visitor),
        unread_count=Coalesce(Subquery(unread, output_field=IntegerField()), Value(0)),
    )


def visitor_conversation_summary(
    *, widget: Widget, contact: Contact, conversation_id: int
) -> Conversation | None:
    """One of the visitor's conversations as the list shows it (None when not theirs)."""
    return visitor_conversations(widget=widget, contact=contact).filter(pk=conversation_id).first()


def conversation_title(conversation: Conversation) -> tuple[str, str]:
    """What the widget calls a conversation, and where that came from: the visitor's own
    title (``custom``), else their first message, cut (``first_message``), else its date
    (``date``: "Conversation on 2026-12-04", which the widget words in the visitor's
    language). ``conversation`` comes from :func:`visitor_conversations`."""
    if conversation.title:
        return conversation.title, "custom"
    first = " ".join(str(getattr(conversation, "first_visitor_text", None) or "").split())
    if first:
        cut = first if len(first) <= DEFAULT_TITLE_CHARS else first[: DEFAULT_TITLE_CHARS - 1].rstrip() + "…"
        return cut, "first_message"
    return f"Conversation on {conversation.created_at.date().isoformat()}", "date"


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
