"""Visitors' files read as context for their conversation (docs/files.md): read once when
attached, stored with the attachment (``ConversationFile``), gone with it. Preconditions:
the tenant's schema is active."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..file_reading import FileRead, FileUnreadable, file_read, readable
from ..models import Attachment, ConversationFile

logger = logging.getLogger(__name__)


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
