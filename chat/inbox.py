"""Reads of the agents' inbox: the views (Unassigned, Mine, All open, ...), their counts,
the filters and the search, who may see which conversation, the members an agent can assign
to, canned replies with their variables filled. Reads never write. Preconditions: the
tenant's schema is active.

Views (snoozed conversations show only under ``snoozed``; ``inbox_counts`` also makes the
agent socket's ``counts`` frames):

- ``unassigned``: a person is wanted or had it (waiting, agent, pending) and nobody has it;
- ``mine``: assigned to the viewer, with a person (waiting, agent, pending);
- ``open``: every conversation with a person or waiting for one (not the bot's);
- ``waiting``: the visitor asked for a person and nobody took it yet;
- ``bot``: the bot is answering;
- ``snoozed``: not resolved, snoozed until a time still to come (hidden from the others);
- ``resolved``: closed;
- ``all``: everything (for searching).

Visibility: when ``InboxSettings.visibility`` is ``widgets``, a member whose role is agent
sees only the conversations of the widgets in their ``AgentProfile.widgets`` (none listed:
every widget); owners and admins see everything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from tenants.models import Membership, Tenant

from .models import AgentProfile, CannedReply, Conversation, InboxSettings, Message

Status = Conversation.Status
HUMAN_STATUSES: Final = (Status.WAITING, Status.AGENT, Status.PENDING)
# Unread does not count where nobody on the team is expected to answer.
QUIET_STATUSES: Final = (Status.CLOSED, Status.BOT)
VIEWS: Final[tuple[tuple[str, str], ...]] = (
    ("unassigned", "Unassigned"),
    ("mine", "Mine"),
    ("waiting", "Waiting for a human"),
    ("open", "All open"),
    ("bot", "Handled by the bot"),
    ("snoozed", "Snoozed"),
    ("resolved", "Resolved"),
    ("all", "Everything"),
)
VIEW_KEYS: Final = frozenset(key for key, _ in VIEWS)
DEFAULT_VIEW: Final = "open"
MANAGER_ROLES: Final = frozenset({Membership.Role.OWNER, Membership.Role.ADMIN})


# --- settings and profiles: chat.presence (inbox_settings, agent_profile_for) -----------


# --- who sees what ---------------------------------------------------------------------


def widget_restriction(user_id: int) -> Q:
    """In SQL, so it costs no query of its own: the row's widget (a conversation's or a
    contact's ``widget_id``) is one of the agent's widgets, unless the inbox shows agents
    everything or the agent lists none."""
    everything = ~Exists(InboxSettings.objects.filter(visibility=InboxSettings.Visibility.WIDGETS))
    through = AgentProfile.widgets.through
    mine = through.objects.filter(agentprofile__user_id=user_id)
    no_list = ~Exists(mine)
    listed = Exists(mine.filter(widget_id=OuterRef("widget_id")))
    return Q(everything) | Q(no_list) | Q(listed)


def visible_conversations(*, user_id: int, role: str) -> QuerySet[Conversation]:
    """The conversations this member may see (see the module's docstring)."""
    conversations = Conversation.objects.all()
    if role not in MANAGER_ROLES and role != "support":
        conversations = conversations.filter(widget_restriction(user_id))
    return conversations


def conversation_visible(*, conversation_id: int, user_id: int, role: str) -> Conversation | None:
    """The conversation with its contact and widget, if this member may see it."""
    return (
        visible_conversations(user_id=user_id, role=role)
        .select_related("contact", "widget")
        .filter(pk=conversation_id)
        .first()
    )


# --- views and counts -------------------------------------------------------------------


def _view_q(view: str, *, user_id: int, now: datetime) -> Q:
    awake = Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=now)
    not_closed = ~Q(status=Status.CLOSED)
    match view:
        case "unassigned":
            return Q(status__in=HUMAN_STATUSES, assignee_user_id__isnull=True) & awake
        case "mine":
            return Q(assignee_user_id=user_id, status__in=HUMAN_STATUSES) & awake
        case "waiting":
            return Q(status=Status.WAITING) & awake
        case "open":
            return Q(status__in=HUMAN_STATUSES) & awake
        case "bot":
            return Q(status=Status.BOT) & awake
        case "snoozed":
            return not_closed & Q(snoozed_until__gt=now)
        case "resolved":
            return Q(status=Status.CLOSED)
    return Q()


def _unread_q(user_id: int) -> Q:
    """Visitor messages nobody on the team has read, where a person is expected to answer
    (the pages and the socket's ``counts`` frames both count with ``inbox_counts``)."""
    return Q(last_visitor_seq__gt=F("agent_read_seq")) & ~Q(status__in=QUIET_STATUSES)


COUNTED: Final = ("unassigned", "mine", "waiting", "open", "bot", "snoozed")


def inbox_counts(*, user_id: int, role: str, now: datetime | None = None) -> dict[str, int]:
    """How many conversations each view holds (resolved and everything are not counted:
    they only grow), and ``unread``: open ones with visitor messages nobody has read. One
    query."""
    now = now or timezone.now()
    aggregates = {key: Count("pk", filter=_view_q(key, user_id=user_id, now=now)) for key in COUNTED}
    aggregates["unread"] = Count("pk", filter=_unread_q(user_id) & _view_q("open", user_id=user_id, now=now))
    found: dict[str, int] = visible_conversations(user_id=user_id, role=role).aggregate(**aggregates)
    return found


def unread_badge(*, user_id: int, role: str) -> int:
    """The navigation's badge: ``inbox_counts()["unread"]`` alone (one query)."""
    now = timezone.now()
    return (
        visible_conversations(user_id=user_id, role=role)
        .filter(_unread_q(user_id) & _view_q("open", user_id=user_id, now=now))
        .count()
    )


# --- filters and search ------------------------------------------------------------------


@dataclass(frozen=True)
class InboxFilters:
    view: str = DEFAULT_VIEW
    widget_id: int | None = None
    status: str = ""
    assignee: str = ""  # "", "me", "none" or a user id
    rating: str = ""  # "", "rated", "good" (4-5), "bad" (1-2), "thumbs_down"
    date_from: date | None = None
    date_to: date | None = None
    q: str = ""


def conversation_search_q(text: str) -> Q:
    """Words in any message (PostgreSQL full-text search, the 'simple' configuration the
    GIN index is built on), or a part of the contact's name or email."""
    query = SearchQuery(text, config="simple", search_type="plain")
    in_messages = Exists(
        Message.objects.annotate(search=SearchVector("text", config="simple")).filter(
            conversation_id=OuterRef("pk"), search=query
        )
    )
    return in_messages | Q(contact__name__icontains=text) | Q(contact__email__icontains=text)


def _assignee_q(assignee: str, user_id: int) -> Q:
    if assignee == "me":
        return Q(assignee_user_id=user_id)
    if assignee == "none":
        return Q(assignee_user_id__isnull=True)
    if assignee.isdigit():
        return Q(assignee_user_id=int(assignee))
    return Q()


RATING_Q: Final[Mapping[str, Q]] = {
    "rated": Q(csat_score__isnull=False),
    "good": Q(csat_score__gte=4),
    "bad": Q(csat_score__lte=2),
    "thumbs_down": Q(Exists(Message.objects.filter(conversation_id=OuterRef("pk"), feedback_rating=-1))),
}


def _filters_q(filters: InboxFilters, *, user_id: int) -> Q:
    q = _view_q(filters.view, user_id=user_id, now=timezone.now())
    if filters.widget_id is not None:
        q &= Q(widget_id=filters.widget_id)
    if filters.status:
        q &= Q(status=filters.status)
    q &= _assignee_q(filters.assignee, user_id)
    q &= RATING_Q.get(filters.rating, Q())
    if filters.date_from is not None:
        q &= Q(last_activity__date__gte=filters.date_from)
    if filters.date_to is not None:
        q &= Q(last_activity__date__lte=filters.date_to)
    if text := filters.q.strip():
        q &= conversation_search_q(text)
    return q


def inbox_conversations(filters: InboxFilters, *, user_id: int, role: str) -> QuerySet[Conversation]:
    """The conversations of a view, narrowed by the filters, the latest activity first,
    with their contact and widget (``last_activity``: the last message's time, else the start).
    Paginate it; the previews come from ``chat.selectors.conversation_last_messages``."""
    return (
        visible_conversations(user_id=user_id, role=role)
        .select_related("contact", "widget")
        .annotate(last_activity=Coalesce("last_message_at", "created_at"))
        .filter(_filters_q(filters, user_id=user_id))
        .order_by("-last_activity", "-id")
    )


def contact_history(
    conversation: Conversation, *, user_id: int, role: str, limit: int = 10
) -> list[Conversation]:
    """The contact's other conversations (that this member may see), latest first."""
    if conversation.contact_id is None:
        return []
    return list(
        visible_conversations(user_id=user_id, role=role)
        .filter(contact_id=conversation.contact_id)
        .exclude(pk=conversation.pk)
        .order_by("-created_at")[:limit]
    )


# --- members ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    user_id: int
    name: str
    email: str
    role: str


def member_name(first: str, last: str, email: str) -> str:
    return f"{first} {last}".strip() or email.split("@")[0]


def workspace_members(tenant: Tenant) -> list[Member]:
    """Everyone who may be assigned a conversation (every member of the workspace), by
    name. One query."""
    rows = (
        Membership.objects.filter(tenant=tenant)
        .select_related("user")
        .order_by("user__first_name", "user__email")
    )
    return [
        Member(
            m.user_id, member_name(m.user.first_name, m.user.last_name, m.user.email), m.user.email, m.role
        )
        for m in rows
    ]


# --- canned replies ---------------------------------------------------------------------

_VARIABLE = re.compile(r"\{\{\s*([a-z]+\.[a-z]+)\s*\}\}")


def canned_fill(text: str, variables: Mapping[str, str]) -> str:
    """``text`` with ``{{contact.name}}``-style variables replaced; an unknown or empty
    one becomes "" (a reply never shows braces to a visitor)."""
    return _VARIABLE.sub(lambda m: variables.get(m.group(1), ""), text)


def canned_replies() -> list[CannedReply]:
    return list(CannedReply.objects.order_by("shortcut"))


def snooze_presets(now: datetime, zone: Any) -> list[tuple[str, str, datetime]]:
    """The snooze menu: (key, label, until) for in an hour, tomorrow 9:00 and next Monday
    9:00, in the workspace's time zone ``zone``."""
    local = now.astimezone(zone)
    nine = local.replace(hour=9, minute=0, second=0, microsecond=0)
    tomorrow = nine + timedelta(days=1)
    monday = nine + timedelta(days=7 - local.weekday())
    return [
        ("hour", "In 1 hour", now + timedelta(hours=1)),
        ("tomorrow", "Tomorrow, 9:00", tomorrow),
        ("week", "Next week (Monday, 9:00)", monday),
    ]
