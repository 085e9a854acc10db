"""Visitors' files read as context for their conversation (docs/files.md): read once when
attached, stored with the attachment (``ConversationFile``), gone with it. Preconditions:
the tenant's schema is active."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.core.cache import cache
from django.db import transaction

from ..file_reading import FileRead, FileUnreadable, file_read, readable
from ..models import Attachment, ConversationFile

logger = logging.getLogger(__name__)

# Whether a conversation may have files (the workspace's cache, so an answer in a
# conversation without any asks the database once, not on every answer). "Yes" is set
# when a file is stored; a stale "yes" costs a query, never a missed file.
KNOWN_SECONDS = 3600


def files_known_key(conversation_id: int) -> str:
    return f"chat:conversation-files:{conversation_id}"


@dataclass
class FileReading:
    """What reading a file gave: its content, or why it could not be read."""

    read: FileRead | None
    error: str = ""

    @property
    def status(self) -> str:
        return ConversationFile.Status.READY if self.read is not None else ConversationFile.Status.FAILED

    def entry(self) -> dict[str, str]:
        """What the message's attachment entry says of it (the widget's chip)."""
        return {"context_status": str(self.status), "context_error": self.error}


def file_reading(data: bytes, *, name: str, content_type: str) -> FileReading | None:
    """Read a file for the bot (None: a kind the bot does not read, such as images).
    Never raises for a bad file: the reason is kept for the visitor and the agents."""
    if not readable(name, content_type):
        return None
    try:
        return FileReading(file_read(data, name=name, content_type=content_type))
    except FileUnreadable as error:
        return FileReading(None, str(error)[:300])
    except Exception:  # a parser's surprise must not lose the attachment
        logger.exception("chat: a file could not be read name=%s", name)
        return FileReading(None, "This file could not be read.")


def conversation_file_create(*, attachment: Attachment, reading: FileReading) -> ConversationFile:
    """Store what was read of ``attachment`` for its conversation (in the caller's
    transaction, with the attachment)."""
    read = reading.read
    key = files_known_key(attachment.conversation_id)
    transaction.on_commit(lambda: cache.set(key, True, timeout=KNOWN_SECONDS))
    return ConversationFile.objects.create(
        conversation_id=attachment.conversation_id,
        attachment=attachment,
        kind=read.kind if read is not None else ConversationFile.Kind.TEXT,
        status=reading.status,
        error=reading.error,
        columns=read.columns if read is not None else [],
        rows=read.rows if read is not None else [],
        chunks=read.chunks if read is not None else [],
    )
