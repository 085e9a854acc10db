"""Writes for visitors' attachments: the file, its row and the message that carries it,
stored together. Preconditions: the tenant's schema is active."""

from __future__ import annotations

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from ..attachments import attachment_check, clean_name
from ..models import Attachment, Conversation, Message
from .files import conversation_file_create, file_reading
from .messages import ConversationClosed, message_append

MAX_CAPTION_CHARS = 4000


def attachment_add(
    *,
    conversation: Conversation,
    upload: UploadedFile,
    text: str = "",
    kinds: list[str],
    max_mb: int,
    as_context: bool = False,
) -> Message:
    """A visitor attaches ``upload`` (with an optional caption) to their conversation.

    The type is taken from the bytes and must be among ``kinds``, the size at most
    ``max_mb`` (``chat.attachments.attachment_check``). The file is written first (storage
    is not transactional), then the attachment and its message are stored in one
    transaction; if that fails, the file is removed, so nothing is left half-stored.

    ``as_context`` (the bot's ``files_as_context``): a CSV, JSON, text, Markdown or PDF file
    is read for the bot first (``chat.file_reading``, bounded) and stored with the
    attachment as its conversation's context; a file that cannot be read is attached all the
    same, its entry saying why (``context_status``, ``context_error``).
    """
    if conversation.status == Conversation.Status.CLOSED:
        raise ConversationClosed("Start a new conversation.")
    content_type = attachment_check(upload, kinds=kinds, max_mb=max_mb)
    attachment = Attachment(
        conversation=conversation,
        name=clean_name(upload.name or ""),
        content_type=content_type,
        size=upload.size or 0,
    )
    reading = None
    if as_context:
        reading = file_reading(upload.read(), name=attachment.name, content_type=content_type)
        upload.seek(0)
    attachment.file.save("upload", upload, save=False)
    try:
        with transaction.atomic():
            message, _ = message_append(
                conversation=conversation,
                role=Message.Role.VISITOR,
                text=text[:MAX_CAPTION_CHARS],
                attachments=[
                    {
                        "id": str(attachment.public_id),
                        "name": attachment.name,
                        "content_type": content_type,
                        "size": attachment.size,
                        **(reading.entry() if reading is not None else {}),
                    }
                ],
            )
            attachment.message = message
            attachment.save()
            if reading is not None:
                conversation_file_create(attachment=attachment, reading=reading)
    except BaseException:
        attachment.file.delete(save=False)
        raise
    return message
