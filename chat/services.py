"""Writes for conversations. Preconditions: the tenant's schema is active."""

from __future__ import annotations

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from saas.errors import ProblemError, ValidationFailed

from .models import Conversation, Message

MAX_MESSAGE_CHARS = 4000  # what visitors and agents may send
MAX_ANSWER_CHARS = 20000  # what a bot answer is cut to


class ClientMessageIdReused(ProblemError):
    status = 422
    code = "client_message_id_reused"
    title = "This client message id was already used for another message"


def message_append(
    *, conversation: Conversation, role: str, text: str, client_message_id: str | None = None, **extra
) -> tuple[Message, bool]:
    """Append a message with the next sequence number. Returns (message, created).

    The same ``client_message_id`` sent twice, or concurrently, stores one message and
    returns it both times; reused with a different text it is refused (422).
    """
    text = (text or "").strip()
    if role == Message.Role.BOT:
        text = text[:MAX_ANSWER_CHARS]
    elif not text and not extra.get("attachments"):
        raise ValidationFailed(errors={"text": [{"code": "required", "message": "Write a message."}]})
    elif len(text) > MAX_MESSAGE_CHARS:
        raise ValidationFailed(
            errors={
                "text": [
                    {"code": "too_long", "message": f"Keep messages under {MAX_MESSAGE_CHARS} characters."}
                ]
            }
        )
    table = Conversation._meta.db_table
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            # One statement takes the row lock and the next number (concurrent sends queue here).
            cursor.execute(
                f"UPDATE {table} SET last_seq = last_seq + 1, updated_at = now() "  # noqa: S608 - our table
                "WHERE id = %s RETURNING last_seq, status",
                [conversation.pk],
            )
            row = cursor.fetchone()
            if row is None:
                raise Conversation.DoesNotExist
            conversation.last_seq, conversation.status = row
            message = Message.objects.create(
                conversation=conversation,
                seq=conversation.last_seq,
                role=role,
                text=text,
                client_message_id=client_message_id or "",
                **extra,
            )
    except IntegrityError:  # this client id is already stored (a retry, or a concurrent send)
        existing = Message.objects.get(conversation=conversation, client_message_id=client_message_id)
        return _same_or_refuse(existing, text), False
    return message, True


def _same_or_refuse(existing: Message, text: str) -> Message:
    if existing.text != text:
        raise ClientMessageIdReused("Send a new client_message_id for a new message.")
    return existing


def message_feedback(*, message: Message, rating: int, comment: str = "") -> Message:
    message.feedback_rating, message.feedback_comment = rating, comment.strip()
    message.feedback_at = timezone.now()
    message.save(update_fields=["feedback_rating", "feedback_comment", "feedback_at"])
    return message


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
