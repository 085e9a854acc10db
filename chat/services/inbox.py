"""Placeholder for the lead's ``chat.services.inbox`` (issue 14): the same names and
signatures, the least behaviour the inbox pages need, no realtime events. On merge, the
lead's module replaces this one whole."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from ..attachments import attachment_check, clean_name
from ..models import Attachment, Conversation, Message
from .messages import message_append

AGENT_KINDS = ["image", "pdf", "text", "office"]


def _name(user: Any) -> str:
    return (f"{user.first_name} {user.last_name}".strip() or user.email.split("@")[0])[:120]


def _save(conversation: Conversation, **fields: Any) -> Conversation:
    for name, value in fields.items():
        setattr(conversation, name, value)
    conversation.save(update_fields=[*fields, "updated_at"])
    return conversation


def agent_reply_send(
    *,
    conversation: Conversation,
    user: Any,
    text: str,
    attachments: list[UploadedFile] | None = None,
    client_message_id: str | None = None,
) -> Message:
    stored: list[Attachment] = []
    for upload in attachments or []:
        attachment = Attachment(
            conversation=conversation,
            name=clean_name(upload.name or ""),
            content_type=attachment_check(upload, kinds=AGENT_KINDS, max_mb=10),
            size=upload.size or 0,
        )
        attachment.file.save("upload", upload, save=False)
        stored.append(attachment)
    with transaction.atomic():
        message, _ = message_append(
            conversation=conversation,
            role=Message.Role.AGENT,
            text=text,
            client_message_id=client_message_id,
            author_user_id=user.pk,
            author_name=_name(user),
            attachments=[
                {"id": str(a.public_id), "name": a.name, "content_type": a.content_type, "size": a.size}
                for a in stored
            ],
        )
        for attachment in stored:
            attachment.message = message
            attachment.save()
        fields: dict[str, Any] = {"last_message_at": message.created_at, "agent_read_seq": message.seq}
        if conversation.status != Conversation.Status.AGENT:
            fields.update(status=Conversation.Status.AGENT, closed_at=None, snoozed_until=None)
        if conversation.assignee_user_id is None:
            fields.update(assignee_user_id=user.pk, assigned_at=timezone.now())
        _save(conversation, **fields)
    return message


def agent_note_add(*, conversation: Conversation, user: Any, text: str) -> Message:
    message, _ = message_append(
        conversation=conversation,
        role=Message.Role.NOTE,
        text=text,
        author_user_id=user.pk,
        author_name=_name(user),
    )
    return message


def conversation_assign(*, conversation: Conversation, assignee_user_id: int | None, by: Any) -> Conversation:
    return _save(conversation, assignee_user_id=assignee_user_id, assigned_at=timezone.now())


def conversation_take_over(*, conversation: Conversation, user: Any) -> Conversation:
    return _save(
        conversation, status=Conversation.Status.AGENT, assignee_user_id=user.pk, assigned_at=timezone.now()
    )


def conversation_hand_back(*, conversation: Conversation, by: Any) -> Conversation:
    return _save(conversation, status=Conversation.Status.BOT, assignee_user_id=None)


def conversation_resolve(*, conversation: Conversation, by: Any) -> Conversation:
    return _save(
        conversation, status=Conversation.Status.CLOSED, closed_at=timezone.now(), snoozed_until=None
    )


def conversation_reopen(*, conversation: Conversation, by: Any) -> Conversation:
    status = Conversation.Status.AGENT if conversation.assignee_user_id else Conversation.Status.WAITING
    return _save(conversation, status=status, closed_at=None)


def conversation_snooze(*, conversation: Conversation, until: datetime, by: Any) -> Conversation:
    return _save(conversation, snoozed_until=until)


def conversation_mark_pending(*, conversation: Conversation, by: Any) -> Conversation:
    return _save(conversation, status=Conversation.Status.PENDING)


def conversation_read(*, conversation: Conversation, side: str, seq: int) -> Conversation:
    if side == "agent":
        return _save(conversation, agent_read_seq=max(conversation.agent_read_seq, seq))
    return _save(conversation, visitor_read_seq=max(conversation.visitor_read_seq, seq))
