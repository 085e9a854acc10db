"""What each CSV export holds: its columns, the rows (the page's own selector with the
page's filters, so the file is what the member saw, within what they may see) and how a
row is written. Reads only. Preconditions: the tenant's schema is active.

* contacts: the Contacts page's list (``chat.contacts``), a column per prechat answer;
* conversations: the inbox's list (``chat.inbox``, its view, filters and search), with the
  contact, widget, status, dates, message counts and the outcomes a tenant reports on
  (AI answers, no-answers, handoffs, thumbs, CSAT, AI cost).
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any, Final

from django.db.models import CharField, Count, F, Func, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce, JSONObject
from django.http import QueryDict
from django.utils import timezone

from chat import inbox
from chat.answering.outcome import Outcome
from chat.contacts import contacts_search
from chat.forms import ContactFilterForm, InboxFilterForm
from chat.models import Contact, Conversation, Message
from tenants.models import Tenant

from .models import ExportJob

# Spreadsheets do not want hundreds of columns: the most a contacts file gets for answers.
MAX_ANSWER_COLUMNS: Final = 50
Kind = ExportJob.Kind


@dataclass(frozen=True)
class Dataset:
    kind: str
    header: list[str]
    queryset: QuerySet[Any]  # written newest key first (saas.csv_stream)
    row: Callable[[Any], Sequence[Any]]
    filename: str


def _query(filters: Mapping[str, str]) -> QueryDict:
    query = QueryDict(mutable=True)
    for key, value in filters.items():
        query[key] = value
    return query


def workspace_tz(tenant: Tenant) -> tzinfo:
    try:
        return zoneinfo.ZoneInfo(tenant.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _filename(kind: str, tz: tzinfo) -> str:
    return f"{kind}-{timezone.localtime(timezone.now(), tz):%Y-%m-%d-%H%M}.csv"


# --- contacts ------------------------------------------------------------------------------


def _answer_keys(contacts: QuerySet[Contact]) -> list[str]:
    """The prechat answers' keys among these contacts, sorted (one query)."""
    keys = (
        Contact.objects.filter(pk__in=contacts.order_by().values("pk"))
        .annotate(key=Func(F("answers"), function="jsonb_object_keys", output_field=CharField()))
        .order_by()
        .values_list("key", flat=True)
        .distinct()
    )
    return sorted(keys)[:MAX_ANSWER_COLUMNS]


CONTACT_COLUMNS: Final = [
    "Contact ID",
    "Name",
    "Email",
    "Phone",
    "Country",
    "Widget",
    "First seen",
    "Last seen",
    "Conversations",
    "Consent given at",
    "Consent text",
    "Consent version",
    "Identified as",
    "Identity verified",
    "Email from",
    "Pre-chat submitted at",
    "Language",
    "Page",
    "Referrer",
    "Flagged as a bot",
]


def _contact_row(keys: list[str]) -> Callable[[Any], list[Any]]:
    def row(c: Any) -> list[Any]:
        answers = c.answers if isinstance(c.answers, dict) else {}
        return [
            c.public_id,
            c.name,
            c.email,
            c.phone,
            c.country,
            c.widget.name,
            c.created_at,
            c.last_seen_at,
            c.conversation_count,
            c.consent_given_at,
            c.consent_text,
            c.consent_version,
            c.external_id,
            c.identity_verified,
            c.get_email_source_display() if c.email_source else "",
            c.prechat_submitted_at,
            c.locale,
            c.page_url,
            c.referrer,
            c.flagged_as_bot,
            *[answers.get(key) for key in keys],
        ]

    return row


def contacts_dataset(filters: Mapping[str, str], *, user_id: int, role: str, tz: tzinfo) -> Dataset:
    form = ContactFilterForm(_query(filters))
    contacts = contacts_search(form.contact_filters(), user_id=user_id, role=role, tz=tz)
    keys = _answer_keys(contacts)
    conversation_count = (
        Conversation.objects.filter(contact_id=OuterRef("pk"))
        .order_by()
        .values("contact_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    rows = contacts.annotate(
        conversation_count=Coalesce(Subquery(conversation_count, output_field=IntegerField()), 0)
    )
    return Dataset(
        kind=Kind.CONTACTS,
        header=[*CONTACT_COLUMNS, *[f"Answer: {key}" for key in keys]],
        queryset=rows,
        row=_contact_row(keys),
        filename=_filename("contacts", tz),
    )


# --- conversations -------------------------------------------------------------------------

CONVERSATION_COLUMNS: Final = [
    "Conversation ID",
    "Started",
    "Last message",
    "Closed",
    "Status",
    "Widget",
    "Contact ID",
    "Contact name",
    "Contact email",
    "Contact phone",
    "Assignee",
    "Messages",
    "Visitor messages",
    "Bot messages",
    "Agent replies",
    "AI answers",
    "No answer",
    "Handed off to a person",
    "Handoff asked at",
    "Thumbs up",
    "Thumbs down",
    "CSAT (1-5)",
    "CSAT comment",
    "AI cost (USD)",
]


def _message_stats() -> Subquery:
    """Per conversation, one correlated query over its messages (their index): the counts
    of the file, as one JSON object. Private notes are not messages of the conversation."""
    role, outcome = Message.Role, Outcome
    stats = (
        Message.objects.filter(conversation_id=OuterRef("pk"))
        .exclude(role=role.NOTE)
        .order_by()
        .values("conversation_id")
        .annotate(
            stats=JSONObject(
                total=Count("pk"),
                visitor=Count("pk", filter=Q(role=role.VISITOR)),
                bot=Count("pk", filter=Q(role=role.BOT)),
                agent=Count("pk", filter=Q(role=role.AGENT)),
                ai=Count("pk", filter=Q(role=role.BOT, outcome__in=Outcome.AI_ANSWERED)),
                no_answer=Count("pk", filter=Q(role=role.BOT, outcome=outcome.NO_ANSWER)),
                up=Count("pk", filter=Q(feedback_rating=1)),
                down=Count("pk", filter=Q(feedback_rating=-1)),
                cost=Sum("cost_usd"),
            )
        )
        .values("stats")
    )
    return Subquery(stats)


def _conversation_row(names: Mapping[int, str]) -> Callable[[Any], list[Any]]:
    def row(c: Any) -> list[Any]:
        s = c.message_stats or {}
        contact = c.contact
        assignee = names.get(c.assignee_user_id, "Former member") if c.assignee_user_id else ""
        return [
            c.pk,
            c.created_at,
            c.last_message_at,
            c.closed_at,
            c.get_status_display(),
            c.widget.name,
            contact.public_id if contact else "",
            contact.name if contact else "",
            contact.email if contact else "",
            contact.phone if contact else "",
            assignee,
            s.get("total", 0),
            s.get("visitor", 0),
            s.get("bot", 0),
            s.get("agent", 0),
            s.get("ai", 0),
            s.get("no_answer", 0),
            c.handoff_requested_at is not None,
            c.handoff_requested_at,
            s.get("up", 0),
            s.get("down", 0),
            c.csat_score,
            c.csat_comment,
            s.get("cost"),
        ]

    return row


def conversations_dataset(
    filters: Mapping[str, str], *, user_id: int, role: str, tz: tzinfo, tenant: Tenant
) -> Dataset:
    members = inbox.workspace_members(tenant)
    form = InboxFilterForm(
        _query(filters), views=list(inbox.VIEWS), members=[(m.user_id, m.name) for m in members]
    )
    conversations = inbox.inbox_conversations(form.inbox_filters(), user_id=user_id, role=role)
    return Dataset(
        kind=Kind.CONVERSATIONS,
        header=list(CONVERSATION_COLUMNS),
        queryset=conversations.annotate(message_stats=_message_stats()),
        row=_conversation_row({m.user_id: m.name for m in members}),
        filename=_filename("conversations", tz),
    )


def dataset_for(kind: str, filters: Mapping[str, str], *, user_id: int, role: str, tenant: Tenant) -> Dataset:
    """The export ``kind`` with the page's ``filters`` (its query parameters), as the member
    ``user_id`` in ``role`` sees it."""
    tz = workspace_tz(tenant)
    if kind == Kind.CONVERSATIONS:
        return conversations_dataset(filters, user_id=user_id, role=role, tz=tz, tenant=tenant)
    return contacts_dataset(filters, user_id=user_id, role=role, tz=tz)
