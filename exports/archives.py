"""ZIP archives of what the workspace holds: everything about one contact (the person's
right of access), and the whole workspace (its owner's export). Reads only; written to a
file object the caller owns (a temporary file), a row and a stored file at a time, so
memory stays flat however large the archive. Preconditions: the tenant's schema is active.

A contact's archive: ``contact.json`` (their fields, prechat answers, consent record, and
their conversations with every message, feedback, rating and CSAT) and
``attachments/<conversation>/<file>`` (the files they and the team exchanged).

A workspace's archive: ``workspace.json`` (settings and the members' list), JSON Lines
files of widgets, bots, automations, canned replies, knowledge bases, sources, contacts and
conversations (each with its messages), and the stored files (``knowledge/…``,
``attachments/…``). Secrets (widget identity secrets, encrypted provider keys) are never
written; vectors and search vectors are derived data and left out.
"""

from __future__ import annotations

import json
import posixpath
import re
import shutil
import zipfile
from collections.abc import Iterable, Iterator
from typing import IO, Any, Final

from django.core.files.storage import Storage
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import FileField, Model, QuerySet
from django.utils import timezone

from chat.models import (
    AgentProfile,
    Attachment,
    AutomationRule,
    BotSettings,
    CannedReply,
    Contact,
    Conversation,
    InboxSettings,
    Message,
)
from knowledge.models import Document, KnowledgeBase, Source
from tenants.models import Membership, Tenant
from widget_builder.models import Widget

# Fields never written to an archive: secrets and derived search data.
_SECRET = re.compile(r"secret|encrypted|password|token|embedding$|search_vector")
_CHUNK: Final = 500
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


def record(obj: Model, *, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """A row's own fields as JSON-ready values (foreign keys as ids, files as names)."""
    skipped = set(exclude)
    out: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        if field.name in skipped or _SECRET.search(field.name):
            continue
        value = getattr(obj, field.attname)
        if isinstance(field, FileField):
            value = value.name or ""
        out[field.attname] = value
    return out


def _dumps(value: Any) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False)


def _safe(name: str) -> str:
    return _SAFE_NAME.sub("_", posixpath.basename(name))[:120] or "file"


def _attachment_path(attachment: Attachment) -> str:
    return f"attachments/{attachment.conversation_id}/{attachment.public_id}-{_safe(attachment.name)}"


def _copy_file(archive: zipfile.ZipFile, storage: Storage, name: str, path: str) -> bool:
    """A stored file into the archive, a piece at a time; False if it is gone."""
    try:
        source = storage.open(name, "rb")
    except (FileNotFoundError, OSError):
        return False
    with source, archive.open(path, "w", force_zip64=True) as target:
        shutil.copyfileobj(source, target, 64 * 1024)
    return True


def conversation_record(conversation: Conversation, attachments: list[Attachment]) -> dict[str, Any]:
    """A conversation with its messages (feedback included) and its attachments' entries."""
    messages = Message.objects.filter(conversation=conversation).order_by("seq")
    return {
        **record(conversation),
        "messages": [record(message) for message in messages.iterator(chunk_size=_CHUNK)],
        "attachments": [
            {**record(a, exclude=["file"]), "archive_path": _attachment_path(a)} for a in attachments
        ],
    }


def _attachments_by_conversation(conversations: QuerySet[Conversation]) -> dict[int, list[Attachment]]:
    found: dict[int, list[Attachment]] = {}
    rows = Attachment.objects.filter(conversation__in=conversations.values("pk")).order_by("pk")
    for attachment in rows:
        found.setdefault(attachment.conversation_id, []).append(attachment)
    return found


def _write_attachments(archive: zipfile.ZipFile, attachments: Iterable[Attachment]) -> int:
    storage = Attachment._meta.get_field("file").storage
    return sum(
        1
        for a in attachments
        if a.file.name and _copy_file(archive, storage, a.file.name, _attachment_path(a))
    )


def contact_archive_write(
    contact: Contact, out: IO[bytes], *, more: dict[str, list[dict[str, Any]]] | None = None
) -> dict[str, int]:
    """Everything held about ``contact`` as a ZIP written to ``out``; returns the counts.
    ``more``: what apps above this one hold about them (a key each, in ``contact.json``)."""
    conversations = Conversation.objects.filter(contact=contact).order_by("created_at", "pk")
    by_conversation = _attachments_by_conversation(conversations)
    records = [conversation_record(c, by_conversation.get(c.pk, [])) for c in conversations]
    data: dict[str, Any] = {
        "exported_at": timezone.now(),
        "contact": record(contact),
        "consent": {
            "given_at": contact.consent_given_at,
            "text": contact.consent_text,
            "version": contact.consent_version,
        },
        "prechat_answers": contact.answers if isinstance(contact.answers, dict) else {},
        "conversations": records,
        **(more or {}),
    }
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("contact.json", _dumps(data))
        files = _write_attachments(archive, (a for rows in by_conversation.values() for a in rows))
    return {
        "conversations": len(records),
        "attachments": files,
        **{k: len(v) for k, v in (more or {}).items()},
    }


def _jsonl(archive: zipfile.ZipFile, path: str, rows: Iterator[dict[str, Any]]) -> int:
    count = 0
    with archive.open(path, "w", force_zip64=True) as target:
        for row in rows:
            target.write((_dumps(row) + "\n").encode())
            count += 1
    return count


def _rows(queryset: QuerySet[Any]) -> Iterator[dict[str, Any]]:
    return (record(obj) for obj in queryset.order_by("pk").iterator(chunk_size=_CHUNK))


def _conversations() -> Iterator[dict[str, Any]]:
    for conversation in Conversation.objects.order_by("pk").iterator(chunk_size=_CHUNK):
        attachments = list(Attachment.objects.filter(conversation=conversation).order_by("pk"))
        yield conversation_record(conversation, attachments)


def _workspace(tenant: Tenant) -> dict[str, Any]:
    members = Membership.objects.filter(tenant=tenant).select_related("user").order_by("created_at")
    return {
        "exported_at": timezone.now(),
        "workspace": {
            "name": tenant.name,
            "slug": tenant.slug,
            "time_zone": tenant.time_zone,
            "language": tenant.language,
            "plan": tenant.plan,
            "created_at": tenant.created_at,
        },
        "members": [
            {"email": m.user.email, "name": m.user.get_full_name(), "role": m.role, "joined_at": m.created_at}
            for m in members
        ],
    }


TABLES: Final[tuple[tuple[str, type[Model]], ...]] = (
    ("widgets.jsonl", Widget),
    ("bots.jsonl", BotSettings),
    ("automations.jsonl", AutomationRule),
    ("canned_replies.jsonl", CannedReply),
    ("inbox_settings.jsonl", InboxSettings),
    ("agent_profiles.jsonl", AgentProfile),
    ("knowledge_bases.jsonl", KnowledgeBase),
    ("knowledge_sources.jsonl", Source),
    ("knowledge_documents.jsonl", Document),
    ("contacts.jsonl", Contact),
)


def workspace_archive_write(tenant: Tenant, out: IO[bytes]) -> int:
    """All the workspace's data as a ZIP written to ``out``; returns the number of rows."""
    rows = 0
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        archive.writestr("workspace.json", _dumps(_workspace(tenant)))
        for path, model in TABLES:
            rows += _jsonl(archive, path, _rows(model._default_manager.all()))
        rows += _jsonl(archive, "conversations.jsonl", _conversations())
        source_storage = Source._meta.get_field("file").storage
        for source in Source.objects.exclude(file="").order_by("pk").iterator(chunk_size=_CHUNK):
            _copy_file(
                archive, source_storage, source.file.name, f"knowledge/{source.pk}-{_safe(source.file.name)}"
            )
        _write_attachments(archive, Attachment.objects.order_by("pk").iterator(chunk_size=_CHUNK))
    return rows
