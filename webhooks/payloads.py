"""The event types and their payloads (docs/webhooks.md lists them with examples).

Every body is ``{"type", "id", "timestamp", "api_version", "workspace", "data"}``; ``data``
is built from the stored rows in the APIs' own shapes: conversations as the workspace
API's ``chat.apis.ConversationOutput`` (with their CSAT), messages as the widget API's
``chat.selectors.message_payload``. Private notes and system lines are not sent: a
note is for the team only, and what a system line says is another event (handoff).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from chat.apis import ConversationOutput
from chat.models import Contact, Conversation, Message
from chat.selectors import message_payload
from knowledge.models import Source
from tenants.models import Tenant

API_VERSION = "2026-12-01"
TEST_EVENT = "webhook.test"

# Grouped as the endpoint form shows them.
EVENT_GROUPS: dict[str, list[tuple[str, str]]] = {
    "Conversations": [
        ("conversation.created", "A visitor started a conversation"),
        ("conversation.handoff_requested", "The visitor asked for a person"),
        ("conversation.assigned", "A conversation was assigned (or unassigned)"),
        ("conversation.resolved", "A conversation was resolved or closed"),
        ("conversation.rated", "The visitor rated the conversation (CSAT)"),
    ],
    "Messages": [
        ("message.created", "A visitor, bot or agent message (never private notes)"),
        ("message.feedback", "The visitor gave an answer a thumbs up or down"),
    ],
    "Contacts": [
        ("contact.created", "A new visitor"),
        ("contact.updated", "A visitor left their details (a lead) or was identified"),
    ],
    "Knowledge": [
        ("knowledge.source.ingested", "A knowledge source finished ingesting"),
        ("knowledge.source.failed", "A knowledge source failed to ingest"),
    ],
}
EVENT_TYPES: frozenset[str] = frozenset(t for group in EVENT_GROUPS.values() for t, _ in group)
MESSAGE_ROLES_SENT = frozenset({Message.Role.VISITOR, Message.Role.BOT, Message.Role.AGENT})


def _time(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def event_id_new() -> str:
    return "evt_" + secrets.token_hex(12)


def envelope(
    *, tenant: Tenant, event_type: str, event_id: str, at: datetime, data: dict[str, Any]
) -> dict[str, Any]:
    return {
        "type": event_type,
        "id": event_id,
        "timestamp": _time(at),
        "api_version": API_VERSION,
        "workspace": {"id": tenant.pk, "slug": tenant.slug, "name": tenant.name},
        "data": data,
    }


def contact_data(contact: Contact) -> dict[str, Any]:
    return {
        "id": str(contact.public_id),
        "widget_id": contact.widget_id,
        "name": contact.name,
        "email": contact.email,
        "phone": contact.phone,
        "country": contact.country,
        "answers": contact.answers,
        "external_id": contact.external_id,
        "identity_verified": contact.identity_verified,
        "consent_given_at": _time(contact.consent_given_at),
        "page_url": contact.page_url,
        "locale": contact.locale,
        "created_at": _time(contact.created_at),
    }


def conversation_data(conversation: Conversation) -> dict[str, Any]:
    """The workspace API's conversation, with the visitor's rating once given."""
    data = dict(ConversationOutput(conversation).data)
    rated = conversation.csat_at is not None
    data["csat"] = {"score": conversation.csat_score, "comment": conversation.csat_comment} if rated else None
    return data


def message_data(message: Message) -> dict[str, Any]:
    data = {"id": message.pk, "conversation_id": message.conversation_id, **message_payload(message)}
    if message.feedback_at:
        data["feedback_comment"] = message.feedback_comment
    return data


def source_data(source: Source) -> dict[str, Any]:
    return {
        "id": source.pk,
        "knowledge_base_id": source.knowledge_base_id,
        "kind": source.kind,
        "title": source.title,
        "url": source.url,
        "status": source.status,
        "error": source.error,
        "last_synced_at": _time(source.last_synced_at),
    }
