"""Writes for messages: appending one with the next sequence number (once per client message
id), a visitor's message, and visitors' feedback on answers. Preconditions: the tenant's
schema is active."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from saas.errors import Conflict, ProblemError, ValidationFailed

from ..cards import card_settled
from ..models import Conversation, Message, chat_event_send
from ..realtime import events

MAX_MESSAGE_CHARS = 4000  # what visitors and agents may send
MAX_ANSWER_CHARS = 20000  # what a bot answer is cut to


class ClientMessageIdReused(ProblemError):
    status = 422
    code = "client_message_id_reused"
    title = "This client message id was already used for another message"


class ConversationClosed(Conflict):
    code = "conversation_closed"
    title = "This conversation is closed"


def message_append(
    *, conversation: Conversation, role: str, text: str, client_message_id: str | None = None, **extra: Any
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
    message = Message(
        conversation=conversation,
        seq=0,  # the statement takes the next number
        role=role,
        text=text,
        client_message_id=client_message_id or "",
        **extra,
    )
    try:
        if connection.in_atomic_block:  # a savepoint keeps a refused insert from the caller's work
            with transaction.atomic():
                _store(message, conversation)
        else:  # one statement: atomic by itself, no BEGIN/COMMIT round trips
            _store(message, conversation)
    except IntegrityError:  # this client id is already stored (a retry, or a concurrent send)
        existing = Message.objects.get(conversation=conversation, client_message_id=client_message_id)
        return _same_or_refuse(existing, text), False
    events.conversation_changed(conversation.pk, seq=message.seq)
    chat_event_send("message.created", conversation_id=conversation.pk, message_id=message.pk)
    return message, True


def _store(message: Message, conversation: Conversation) -> None:
    """Insert ``message`` with the conversation's next number, in one statement: the UPDATE
    takes the row lock and the number (concurrent sends queue there), the INSERT uses it.
    Sets the message's id and number and the conversation's number and status."""
    quote = connection.ops.quote_name
    fields = [f for f in Message._meta.local_concrete_fields if not f.primary_key]
    columns, values, params = [], [], []
    for field in fields:
        columns.append(quote(field.column))
        if field.attname == "seq":
            values.append("c.last_seq")
            continue
        values.append("%s")
        params.append(field.get_db_prep_save(field.pre_save(message, True), connection))
    role = message.role
    # Our tables and columns are formatted in; the values are parameters.
    sql = (
        f"WITH c AS (UPDATE {Conversation._meta.db_table} SET last_seq = last_seq + 1, updated_at = now(), "  # noqa: S608
        "last_message_at = CASE WHEN %s THEN last_message_at ELSE now() END, "
        "last_visitor_seq = CASE WHEN %s THEN last_seq + 1 ELSE last_visitor_seq END "
        "WHERE id = %s RETURNING last_seq, status), "
        f"m AS (INSERT INTO {Message._meta.db_table} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM c RETURNING id) "
        "SELECT m.id, c.last_seq, c.status FROM m, c"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [role == Message.Role.NOTE, role == Message.Role.VISITOR, conversation.pk, *params],
        )
        row = cursor.fetchone()
    if row is None:
        raise Conversation.DoesNotExist
    message.pk, message.seq, conversation.status = row
    conversation.last_seq = message.seq
    message._state.adding, message._state.db = False, connection.alias


def _same_or_refuse(existing: Message, text: str) -> Message:
    if existing.text != text:
        raise ClientMessageIdReused("Send a new client_message_id for a new message.")
    return existing


def visitor_message_send(
    *, conversation: Conversation, text: str, client_message_id: str | None = None
) -> tuple[Message, bool]:
    """The visitor's message (``message_append``), refused once the conversation is closed.
    Returns (message, created); when the client message id was already stored, the
    conversation's status and last number are re-read (the caller answers from them)."""
    if conversation.status == Conversation.Status.CLOSED:
        raise ConversationClosed("Start a new conversation.")
    message, created = message_append(
        conversation=conversation, role=Message.Role.VISITOR, text=text, client_message_id=client_message_id
    )
    if not created:
        conversation.refresh_from_db(fields=["status", "last_seq"])
    else:
        conversation_visitor_wrote(conversation=conversation)
    return message, created


def conversation_visitor_wrote(*, conversation: Conversation) -> None:
    """The visitor wrote: a snooze ends, a pending conversation is the agent's again."""
    updates: dict[str, Any] = {}
    if conversation.snoozed_until is not None:
        updates["snoozed_until"] = None
    if conversation.status == Conversation.Status.PENDING:
        updates["status"] = (
            Conversation.Status.AGENT if conversation.assignee_user_id else Conversation.Status.WAITING
        )
    if updates:
        with transaction.atomic():
            Conversation.objects.filter(pk=conversation.pk).update(**updates)
            for name, value in updates.items():
                setattr(conversation, name, value)
            events.conversation_changed(conversation.pk, kind="status")
    if conversation.assignee_user_id and conversation.status == Conversation.Status.AGENT:
        events.notify("message", conversation.pk, user_id=conversation.assignee_user_id)
    elif conversation.status == Conversation.Status.WAITING:
        events.notify("message", conversation.pk)


def message_feedback(*, message: Message, rating: int, comment: str = "") -> Message:
    """A visitor's thumbs up (1) or down (-1) on a bot answer; sent again, it replaces
    the previous one."""
    message.feedback_rating, message.feedback_comment = rating, comment.strip()
    message.feedback_at = timezone.now()
    with transaction.atomic():
        message.save(update_fields=["feedback_rating", "feedback_comment", "feedback_at"])
        chat_event_send("message.feedback", conversation_id=message.conversation_id, message_id=message.pk)
    return message


def message_card_settle(
    *, conversation: Conversation, card_id: str, state: str, result: str, is_error: bool
) -> Message | None:
    """The visitor answered the card ``card_id`` (``chat.cards``) under one of the
    conversation's bot messages: its state, and the waiting call's result for the history
    of the next answers. None when no message carries it."""
    with transaction.atomic():
        message = (
            Message.objects.select_for_update()
            .filter(conversation=conversation, role=Message.Role.BOT, card__id=card_id)
            .first()
        )
        if message is None or message.card is None:
            return None
        message.card = card_settled(message.card, state=state, result=result, is_error=is_error)
        message.save(update_fields=["card"])
    return message
