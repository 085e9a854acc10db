"""Reads of the Contacts page: the workspace's contacts (visitors and the leads the prechat
form and identify calls give us) with search and filters, a contact with their
conversations. Reads never write. Preconditions: the tenant's schema is active.

Visibility follows the inbox's rule (``chat.inbox``): where agents see only their widgets'
conversations, they see only those widgets' contacts too.

By default the list leaves out visitors who only opened a widget: no conversation, no
name, address, phone, prechat answers or identity. ``everyone`` shows them as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Final

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery, TextField
from django.db.models.functions import Cast

from .inbox import MANAGER_ROLES, widget_restriction
from .models import Contact, Conversation, Message

CONSENT_CHOICES: Final = (("", "Any consent"), ("given", "Consent given"), ("none", "No consent recorded"))
IDENTIFIED_CHOICES: Final = (
    ("", "Anyone"),
    ("yes", "Identified by your site"),
    ("verified", "Verified identity"),
    ("no", "Not identified"),
)
EMAIL_CHOICES: Final = (("", "Any"), ("yes", "Has an email"), ("no", "No email"))


@dataclass(frozen=True)
class ContactFilters:
    q: str = ""
    widget_id: int | None = None
    consent: str = ""  # "", "given", "none"
    identified: str = ""  # "", "yes" (an identify call), "verified" (signed), "no"
    has_email: str = ""  # "", "yes", "no"
    date_from: date | None = None  # first seen, in the workspace's time zone
    date_to: date | None = None
    everyone: bool = False  # also visitors who told us nothing and never wrote

    def as_query(self) -> dict[str, str]:
        """The filters as the page's query parameters (stored with an export job)."""
        values = {
            "q": self.q,
            "widget": str(self.widget_id or ""),
            "consent": self.consent,
            "identified": self.identified,
            "has_email": self.has_email,
            "date_from": self.date_from.isoformat() if self.date_from else "",
            "date_to": self.date_to.isoformat() if self.date_to else "",
            "everyone": "on" if self.everyone else "",
        }
        return {key: value for key, value in values.items() if value}


def visible_contacts(*, user_id: int, role: str) -> QuerySet[Contact]:
    """The contacts this member may see (the inbox's widget rule)."""
    contacts = Contact.objects.all()
    if role not in MANAGER_ROLES and role != "support":
        contacts = contacts.filter(widget_restriction(user_id))
    return contacts


def _search_q(text: str) -> Q:
    """A part of the name, email, phone, the site's user id, or any prechat answer (the
    JSON's text, so keys and values alike)."""
    return (
        Q(name__icontains=text)
        | Q(email__icontains=text)
        | Q(phone__icontains=text.replace(" ", ""))
        | Q(external_id__icontains=text)
        | Q(answers_text__icontains=text)
    )


_CONSENT: Final = {"given": Q(consent_given_at__isnull=False), "none": Q(consent_given_at__isnull=True)}
_IDENTIFIED: Final = {
    "yes": ~Q(external_id=""),
    "verified": Q(identity_verified=True),
    "no": Q(external_id=""),
}
_EMAIL: Final = {"yes": ~Q(email=""), "no": Q(email="")}


def _known_q() -> Q:
    """A contact worth listing by default: wrote, or told us something."""
    return (
        Exists(Conversation.objects.filter(contact_id=OuterRef("pk")))
        | ~Q(name="")
        | ~Q(email="")
        | ~Q(phone="")
        | ~Q(external_id="")
        | Q(prechat_submitted_at__isnull=False)
    )


def _filters_q(filters: ContactFilters, tz: tzinfo) -> Q:
    q = Q()
    if filters.widget_id is not None:
        q &= Q(widget_id=filters.widget_id)
    q &= _CONSENT.get(filters.consent, Q())
    q &= _IDENTIFIED.get(filters.identified, Q())
    q &= _EMAIL.get(filters.has_email, Q())
    if filters.date_from is not None:
        q &= Q(created_at__gte=datetime.combine(filters.date_from, time.min, tz))
    if filters.date_to is not None:
        q &= Q(created_at__lt=datetime.combine(filters.date_to + timedelta(days=1), time.min, tz))
    if text := filters.q.strip():
        q &= _search_q(text)
    if not filters.everyone:
        q &= _known_q()
    return q


def contacts_search(filters: ContactFilters, *, user_id: int, role: str, tz: tzinfo) -> QuerySet[Contact]:
    """The contacts matching ``filters`` that this member may see, newest first, with their
    widget. Paginate it; the conversation counts of a page come from
    :func:`contact_conversation_counts` (one query for the page, not a count per row)."""
    return contacts_filtered(visible_contacts(user_id=user_id, role=role), filters, tz).order_by(
        "-created_at", "-id"
    )


def contacts_filtered(contacts: QuerySet[Contact], filters: ContactFilters, tz: tzinfo) -> QuerySet[Contact]:
    """``contacts`` narrowed by ``filters`` (dates in the time zone ``tz``), with their
    widget; the Contacts page and the API's list both filter through it."""
    return (
        contacts.annotate(answers_text=Cast("answers", TextField()))
        .filter(_filters_q(filters, tz))
        .select_related("widget")
    )


def contact_conversation_counts(contact_ids: list[int]) -> dict[int, int]:
    """How many conversations each of these contacts had (absent: none). One query."""
    rows = (
        Conversation.objects.filter(contact_id__in=contact_ids)
        .values("contact_id")
        .annotate(n=Count("pk"))
        .values_list("contact_id", "n")
    )
    return {contact_id: n for contact_id, n in rows if contact_id is not None}


def contact_visible(*, contact_id: int, user_id: int, role: str) -> Contact | None:
    """The contact with their widget, if this member may see it."""
    return visible_contacts(user_id=user_id, role=role).select_related("widget").filter(pk=contact_id).first()


def contact_conversations(contact: Contact) -> list[Conversation]:
    """Every conversation of ``contact``, newest first, each with ``visitor_messages`` and
    ``messages_total`` counted (notes left out) and the visitor's ``first_question``. One
    query. Seeing the contact means seeing their widget, so every one of them is visible
    to whoever sees the contact."""
    talk = ~Q(messages__role=Message.Role.NOTE)
    first = Message.objects.filter(conversation_id=OuterRef("pk"), role=Message.Role.VISITOR).order_by("seq")
    return list(
        Conversation.objects.filter(contact=contact)
        .select_related("widget")
        .annotate(
            messages_total=Count("messages", filter=talk),
            visitor_messages=Count("messages", filter=Q(messages__role=Message.Role.VISITOR)),
            first_question=Subquery(first.values("text")[:1]),
        )
        .order_by("-created_at", "-id")
    )
