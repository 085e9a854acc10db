"""Writes for messages: appending one with the next sequence number (once per client message
id), and visitors' feedback on answers. Preconditions: the tenant's schema is active."""

from __future__ import annotations

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from saas.errors import ProblemError, ValidationFailed

from ..models import Conversation, Message

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
