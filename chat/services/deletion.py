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
from datetime import datetime
from typing import Any, cast

from django.core.files.storage import Storage
from django.db import connection, models, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.db.models.deletion import get_candidate_relations_to_delete
from django.db.models.fields.reverse_related import ForeignObjectRel
from django.http import HttpRequest
from django.utils import timezone

from audit.services import audit_record

from ..models import Attachment, AutomationFiring, Contact, Conversation, Message
from ..realtime import events

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


def _files_remove_on_commit(names: list[str]) -> None:
    if names:
        storage = Attachment._meta.get_field("file").storage
        transaction.on_commit(lambda: _files_remove(storage, names))


# The rows that belong to a conversation (each with a ``conversation`` key), children first:
# deleted with one statement each instead of Django's collector, which loads every message
# of the batch to look for what hangs off it (measured: docs/benchmarks.md, retention).
OWNED: tuple[type[models.Model], ...] = (AutomationFiring, Attachment, Message)


def _references_clear(model: type[models.Model], targets: QuerySet[Any], ids: list[int]) -> bool:
    """Prepare the delete of ``targets`` (rows of ``model`` of conversations ``ids``): rows of
    other tables that cascade from them are deleted (by Django, one statement each when they
    have nothing of their own), rows set null on delete are set null, except rows that go
    with the same conversations. False when a relation asks for anything else (PROTECT,
    RESTRICT...): then the collector must decide."""
    # The relations Django's collector follows, hidden ones (related_name="+") included.
    for candidate in get_candidate_relations_to_delete(model._meta):
        relation = cast(ForeignObjectRel, candidate)
        related, name = relation.related_model, relation.field.name
        if not isinstance(related, type):
            return False
        refs = related._base_manager.filter(**{f"{name}__in": targets})
        if related in OWNED or related is Conversation:
            if model is Conversation:
                continue  # the owned rows themselves: deleted below
            if relation.on_delete is models.SET_NULL:
                refs.exclude(conversation_id__in=ids).update(**{name: None})
                continue
            return False
        if relation.on_delete is models.CASCADE:
            refs.delete()
        elif relation.on_delete is models.SET_NULL:
            refs.update(**{name: None})
        else:
            return False
    return True


def _delete_statement(table: str, key: str) -> str:
    # Names from the models' own metadata, never from input; the ids are a parameter.
    return f"DELETE FROM {connection.ops.quote_name(table)} WHERE {key} = ANY(%s)"  # noqa: S608


def _column(model: type[models.Model], name: str) -> str:
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.column:
        raise TypeError(f"{model._meta.label}.{name} is not a column")
    return str(field.column)


def _rows_delete(ids: list[int]) -> Removed | None:
    """Delete the conversations' rows by statements; None if the collector must do it."""
    messages = Message.objects.filter(conversation_id__in=ids).values("pk")
    for model, targets in (
        (Message, messages),
        (Attachment, Attachment.objects.filter(conversation_id__in=ids).values("pk")),
        (AutomationFiring, AutomationFiring.objects.filter(conversation_id__in=ids).values("pk")),
        (Conversation, Conversation.objects.filter(pk__in=ids).values("pk")),
    ):
        if not _references_clear(model, targets, ids):
            return None
    counts: dict[str, int] = {}
    statements = [
        (
            model._meta.label,
            _delete_statement(model._meta.db_table, _column(model, "conversation")),
        )
        for model in OWNED
    ]
    statements.append(
        (
            Conversation._meta.label,
            _delete_statement(Conversation._meta.db_table, _column(Conversation, "id")),
        )
    )
    with connection.cursor() as cursor:
        for label, statement in statements:
            cursor.execute(statement, [ids])
            counts[label] = cursor.rowcount
    return Removed(
        conversations=counts[Conversation._meta.label],
        messages=counts[Message._meta.label],
        attachments=counts[Attachment._meta.label],
    )


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
        removed = _rows_delete(ids)
        if removed is None:  # a relation the statements do not handle: Django's collector
            _, deleted = Conversation.objects.filter(pk__in=ids).delete()  # messages, attachments cascade
            removed = Removed(
                conversations=deleted.get(Conversation._meta.label, 0),
                messages=deleted.get(Message._meta.label, 0),
                attachments=deleted.get(Attachment._meta.label, 0),
            )
        _files_remove_on_commit(names)
        if removed.conversations:
            events.conversations_removed(ids)
    return removed


def conversation_delete(*, conversation: Conversation, request: HttpRequest | None = None) -> Removed:
    """An owner's or admin's delete of one conversation (the dashboard, the API), through
    :func:`conversations_delete`, recorded in the workspace's audit log in the same
    transaction (``conversation.deleted``: what went, never the messages' text). The caller
    checked the role and that the caller may see the conversation."""
    with transaction.atomic():
        removed = conversations_delete(conversation_ids=[conversation.pk])
        if removed.conversations:
            audit_record(
                action="conversation.deleted",
                request=request,
                target_type="conversation",
                target_id=str(conversation.pk),
                target_repr=f"Conversation {conversation.pk}",
                metadata=removed.as_dict(),
            )
    return removed


def attachments_remove(*, attachment_ids: Iterable[int], reason: str = "retention") -> int:
    """Remove these attachments (their rows, then their files after the commit) while their
    conversations stay: each message that carried one keeps its entry, marked
    ``removed_at`` (and ``removed_reason``), so the transcript says the file was removed.
    Ids already gone are skipped. Returns the rows removed. Callers batch (a few hundred)."""
    ids = list(attachment_ids)
    if not ids:
        return 0
    with transaction.atomic():
        rows = list(
            Attachment.objects.select_for_update(skip_locked=True)
            .filter(pk__in=ids)
            .values_list("pk", "file", "message_id", "public_id")
        )
        if not rows:
            return 0
        gone = {str(public_id) for _, _, _, public_id in rows}
        now = timezone.now().isoformat()
        carriers = Message.objects.filter(pk__in={m for _, _, m, _ in rows if m is not None})
        changed = []
        for message in carriers.only("pk", "attachments"):
            entries = [
                {**entry, "removed_at": now, "removed_reason": reason} if entry.get("id") in gone else entry
                for entry in message.attachments
            ]
            if entries != message.attachments:
                message.attachments = entries
                changed.append(message)
        Message.objects.bulk_update(changed, ["attachments"])
        _, deleted = Attachment.objects.filter(pk__in=[pk for pk, _, _, _ in rows]).delete()
        _files_remove_on_commit([name for _, name, _, _ in rows if name])
    return deleted.get(Attachment._meta.label, 0)


def contacts_delete_unused(*, contact_ids: Iterable[int], seen_before: datetime | None = None) -> int:
    """Delete those of these contacts with no conversation left (and, with ``seen_before``,
    not seen since), checked in the delete itself: a contact whose visitor came back
    meanwhile stays. Returns the contacts deleted."""
    ids = list(contact_ids)
    if not ids:
        return 0
    unused = Contact.objects.filter(pk__in=ids).filter(
        ~Exists(Conversation.objects.filter(contact_id=OuterRef("pk")))
    )
    if seen_before is not None:
        unused = unused.filter(last_seen_at__lt=seen_before)
    with transaction.atomic():
        _, deleted = unused.delete()
    return deleted.get(Contact._meta.label, 0)
