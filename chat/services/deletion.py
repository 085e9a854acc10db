"""Deleting conversations for good: their messages, attachments and the attachments' stored
files, and what hangs off their messages (flagged questions, answer timings: cascades).

The one path for every deletion (retention, an admin's or the API's delete, a visitor's own
delete, a contact's erasure), so none leaves a file behind. Rows go in one short
transaction per call; the files are removed after it commits (storage is not
transactional: a rolled-back delete must keep its files). A file that cannot be removed
then is left to the storage reconciliation, which finds files no row points to.
Preconditions: the tenant's schema is active.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable

from django.core.files.storage import Storage
from django.db import transaction

from ..models import Attachment, Conversation, Message

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Removed:
    """What a deletion removed (counted rows; files are the attachments' stored files)."""

    conversations: int = 0
    messages: int = 0
    attachments: int = 0

    def __add__(self, other: Removed) -> Removed:
        return Removed(
            self.conversations + other.conversations,
            self.messages + other.messages,
            self.attachments + other.attachments,
        )

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


def _files_remove(storage: Storage, names: list[str]) -> None:
    for name in names:
        try:
            storage.delete(name)
        except Exception:  # left for the reconciliation of orphaned files; never fails the delete
            logger.warning("chat: could not remove the stored file %s", name, exc_info=True)


def conversations_delete(*, conversation_ids: Iterable[int]) -> Removed:
    """Delete these conversations and everything of theirs, in one transaction; their files
    after it commits. Ids that no longer exist are skipped (a second run removes nothing).
    Callers delete in batches of a few hundred conversations to keep the locks short."""
    ids = list(conversation_ids)
    if not ids:
        return Removed()
    with transaction.atomic():
        names = [
            name
            for name in Attachment.objects.filter(conversation_id__in=ids).values_list("file", flat=True)
            if name
        ]
        _, deleted = Conversation.objects.filter(pk__in=ids).delete()  # messages, attachments cascade
        if names:
            storage = Attachment._meta.get_field("file").storage
            transaction.on_commit(lambda: _files_remove(storage, names))
    return Removed(
        conversations=deleted.get(Conversation._meta.label, 0),
        messages=deleted.get(Message._meta.label, 0),
        attachments=deleted.get(Attachment._meta.label, 0),
    )
