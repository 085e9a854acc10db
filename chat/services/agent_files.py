"""An agent's reply with attachments: the files are stored as a visitor's are
(``chat.services.attachments``: the type from the bytes, a clean name, one row per file),
then the reply carries them. Preconditions: the tenant's schema is active."""

from __future__ import annotations

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from tenants.models import User

from ..attachments import KINDS, attachment_check, clean_name
from ..models import Attachment, Conversation, Message
from .inbox import agent_reply_send

AGENT_MAX_MB = 10
MAX_FILES = 5


def agent_reply_with_files(
    *,
    conversation: Conversation,
    user: User,
    text: str,
    uploads: list[UploadedFile],
    client_message_id: str | None = None,
) -> Message:
    """``agent_reply_send`` with ``uploads`` attached (any kind a visitor may send, up to
    ``AGENT_MAX_MB`` each). The files are written first (storage is not transactional);
    if the reply is refused, they are removed, so nothing is left half-stored."""
    stored: list[Attachment] = []
    try:
        for upload in uploads[:MAX_FILES]:
            content_type = attachment_check(upload, kinds=sorted(KINDS), max_mb=AGENT_MAX_MB)
            attachment = Attachment(
                conversation=conversation,
                name=clean_name(upload.name or ""),
                content_type=content_type,
                size=upload.size or 0,
            )
            attachment.file.save("upload", upload, save=False)
            stored.append(attachment)
        with transaction.atomic():
            message = agent_reply_send(
                conversation=conversation,
                user=user,
                text=text,
                attachments=[
                    {"id": str(a.public_id), "name": a.name, "content_type": a.content_type, "size": a.size}
                    for a in stored
                ],
                client_message_id=client_message_id,
            )
            for attachment in stored:
                attachment.message = message
                attachment.save()
    except BaseException:
        for attachment in stored:
            attachment.file.delete(save=False)
        raise
    return message
