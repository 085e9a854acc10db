"""Writes for conversations. Preconditions: the tenant's schema is active."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from saas.errors import ProblemError, ValidationFailed

from .models import Conversation, Message

MAX_MESSAGE_CHARS = 4000


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
    if not text:
        raise ValidationFailed(errors={"text": [{"code": "required", "message": "Write a message."}]})
    if len(text) > MAX_MESSAGE_CHARS:
        raise ValidationFailed(
            errors={
                "text": [
                    {"code": "too_long", "message": f"Keep messages under {MAX_MESSAGE_CHARS} characters."}
                ]
            }
        )
    if client_message_id:
        existing = Message.objects.filter(
            conversation=conversation, client_message_id=client_message_id
        ).first()
        if existing is not None:
            return _same_or_refuse(existing, text), False
    try:
        with transaction.atomic():
            locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
            locked.last_seq += 1
            locked.save(update_fields=["last_seq", "updated_at"])
            message = Message.objects.create(
                conversation=locked,
                seq=locked.last_seq,
                role=role,
                text=text,
                client_message_id=client_message_id or "",
                **extra,
            )
    except IntegrityError:  # a concurrent send with the same client id won the race
        existing = Message.objects.get(conversation=conversation, client_message_id=client_message_id)
        return _same_or_refuse(existing, text), False
    return message, True


def _same_or_refuse(existing: Message, text: str) -> Message:
    if existing.text != text:
        raise ClientMessageIdReused("Send a new client_message_id for a new message.")
    return existing
