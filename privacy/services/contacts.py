"""A contact's rights: a copy of everything held about them (export) and its erasure.

Erasing a contact removes their conversations with every message, attachment (and its
stored file: ``chat.services.conversations_delete``, the one deletion path), what hangs off
the messages (flagged questions, answer timings: cascades), the outbound webhook events
and the API's stored first answers (Idempotency-Keys) that carried their data, the cache
entries and rate-limit counters that name them, and the contact row itself (details,
prechat answers, consent). An ``ErasureRecord`` replaces the consent record: when, by
whom, counts. Aggregates stay (billing usage counters, the analytics rollups): they hold
counts, never a person's data. The visitor's token then names nobody, so the widget
answers it 401.

Preconditions: the tenant's schema is active.
"""

from __future__ import annotations

import hashlib
from typing import IO, Any

from django.db import transaction
from django.db.models import TextField
from django.db.models.functions import Cast
from django.http import HttpRequest

from actions.selectors import contact_action_calls
from audit.services import audit_record
from chat.models import Contact, Conversation
from chat.services.deletion import Removed, conversations_delete
from exports.archives import contact_archive_write
from saas.idempotency.models import IdempotencyRecord
from saas.tenant_cache import cache_forget_naming
from saas.tenant_connection import connection
from webhooks.models import Event

from ..models import ErasureRecord

BATCH = 200  # conversations per deletion call: short locks


def contact_export_write(*, contact: Contact, request: HttpRequest | None, out: IO[bytes]) -> dict[str, int]:
    """Write everything held about ``contact`` as a ZIP to ``out`` and record who took it
    (the audit event names the contact by its random id only)."""
    counts = contact_archive_write(contact, out, more={"action_calls": contact_action_calls(contact)})
    with transaction.atomic():
        audit_record(
            action="contact.exported",
            request=request,
            target_type="contact",
            target_id=str(contact.public_id),
            metadata=counts,
        )
    return counts


def _webhook_events_forget(public_id: str, conversation_ids: list[int]) -> int:
    """Outbound events whose body carried the contact (their id, or a message of one of
    their conversations); deliveries cascade."""
    events = Event.objects.filter(body__contains=public_id)
    if conversation_ids:
        ids = "|".join(str(pk) for pk in conversation_ids)
        events = events | Event.objects.filter(body__regex=rf'"conversation_id": ({ids})[,}}]')
    deleted, _ = events.delete()
    return deleted


def _stored_answers_forget(public_id: str, conversation_ids: list[int]) -> int:
    """The API's stored first answers (Idempotency-Keys, kept a day) that carried the
    contact or a message of one of their conversations."""
    answers = IdempotencyRecord.objects.annotate(text=Cast("body", TextField()))
    found = answers.filter(text__contains=public_id)
    if conversation_ids:
        ids = "|".join(str(pk) for pk in conversation_ids)
        found = found | answers.filter(text__regex=rf'"(conversation_id|conversation)": ({ids})[,}}]')
    deleted, _ = IdempotencyRecord.objects.filter(pk__in=found.values("pk")).delete()
    return deleted


def _address_hash(address: str) -> str:
    # As chat.widget_api.throttles.TranscriptRecipientThrottle counts per recipient.
    return hashlib.sha256(address.lower().encode()).hexdigest()


def _actor(request: HttpRequest | None) -> tuple[int | None, str]:
    user: Any = getattr(request, "user", None)
    key = getattr(user, "key", None)
    if key is not None:  # an API key (tenants.api_base.ApiKeyPrincipal)
        return None, f"API key {key.name} ({key.prefix})"[:254]
    if user is not None and user.is_authenticated:
        return user.pk, user.email
    return None, ""


def contact_erase(*, contact: Contact, request: HttpRequest | None) -> ErasureRecord:
    """Erase ``contact`` and everything of theirs (module docstring) in one transaction;
    the stored files and the cache entries go after it commits. Returns the record that
    replaces their consent."""
    public_id, schema = str(contact.public_id), connection.schema_name
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=contact.pk)
        conversations = Conversation.objects.filter(contact=contact).order_by("pk")
        ids = list(conversations.values_list("pk", flat=True))
        # Counters keyed by a hash of an address they were emailed at (transcripts).
        addresses = {contact.email, *conversations.values_list("notify_email", flat=True)}
        identifiers = [public_id, *(_address_hash(a) for a in addresses if a)]
        removed = Removed()
        for start in range(0, len(ids), BATCH):
            removed += conversations_delete(conversation_ids=ids[start : start + BATCH])
        _webhook_events_forget(public_id, ids)
        _stored_answers_forget(public_id, ids)
        had_consent = contact.consent_given_at is not None or bool(contact.consent_text)
        contact.delete()
        user_id, label = _actor(request)
        record = ErasureRecord.objects.create(
            contact_public_id=public_id,
            erased_by_user_id=user_id,
            erased_by_label=label,
            had_consent=had_consent,
            **removed.as_dict(),
        )
        audit_record(
            action="contact.erased",
            request=request,
            target_type="contact",
            target_id=public_id,
            metadata={**removed.as_dict(), "had_consent": had_consent},
        )
        transaction.on_commit(lambda: cache_forget_naming(identifiers, schema_name=schema))
    return record
