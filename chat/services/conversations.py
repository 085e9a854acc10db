"""Writes for conversations: closing, rating, and the visitor's request for a person.
Preconditions: the tenant's schema is active."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from ..models import Conversation, Message
from .messages import message_append


def conversation_close(*, conversation: Conversation) -> Conversation:
    if conversation.status != Conversation.Status.CLOSED:
        conversation.status, conversation.closed_at = Conversation.Status.CLOSED, timezone.now()
        conversation.save(update_fields=["status", "closed_at", "updated_at"])
    return conversation


def conversation_rate(*, conversation: Conversation, score: int, comment: str = "") -> Conversation:
    conversation.csat_score, conversation.csat_comment = score, comment.strip()
    conversation.csat_at = timezone.now()
    conversation.save(update_fields=["csat_score", "csat_comment", "csat_at", "updated_at"])
    return conversation


HANDOFF_NOTE = "You asked for a person. Someone from the team will reply here as soon as possible."


def conversation_handoff(*, conversation: Conversation) -> Message | None:
    """The visitor asked for a person: the bot stops answering and the conversation waits
    for an agent. Returns the note shown to the visitor (None if already waiting)."""
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if locked.status != Conversation.Status.BOT:
            conversation.status = locked.status
            return None
        locked.status, locked.handoff_requested_at = Conversation.Status.WAITING, timezone.now()
        locked.save(update_fields=["status", "handoff_requested_at", "updated_at"])
    conversation.status = Conversation.Status.WAITING
    note, _ = message_append(conversation=conversation, role=Message.Role.SYSTEM, text=HANDOFF_NOTE)
    return note
