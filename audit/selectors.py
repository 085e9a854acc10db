"""Reads of the workspace audit log: the events a filter selects (newest first), a page of
them by key, the actors and target types to filter by, and an event in words.

Preconditions: the tenant's schema is active (the log is the workspace's own table).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from .actions import ACTIONS, CATEGORIES, action_category, action_label, codes_of_category
from .models import AuditEvent

PAGE_SIZE = 50
SYSTEM = "system"
# The filters offer the actors and target types of this many newest events: a bounded read
# however long the log (an older actor is still selected by the API's ``actor``).
CHOICES_FROM = 5000


@dataclass(frozen=True)
class AuditFilters:
    """What the page, its CSV export and the API filter by. ``actor``: ``member:<user id>``,
    ``api_key:<key id>``, ``staff:<user id>`` or ``system``; ``since`` inclusive, ``until``
    exclusive; ``target``: a target's id, or words of its name."""

    actor: str = ""
    action: str = ""
    category: str = ""
    since: datetime | None = None
    until: datetime | None = None
    target_type: str = ""
    target: str = ""


def actor_value(event: AuditEvent) -> str:
    """The ``actor`` filter value naming the event's actor."""
    if event.actor_kind == AuditEvent.ActorKind.SYSTEM or event.actor_id is None:
        return SYSTEM
    return f"{event.actor_kind}:{event.actor_id}"


def _actor_q(actor: str) -> Q:
    if actor == SYSTEM:
        return Q(actor_kind=AuditEvent.ActorKind.SYSTEM)
    kind, _, ident = actor.partition(":")
    if kind not in AuditEvent.ActorKind.values or not ident.isdigit() or len(ident) > 18:
        return Q(pk__in=[])  # names nobody: nothing matches (the forms refuse it first)
    return Q(actor_kind=kind, actor_id=int(ident))


def _category_q(category: str) -> Q:
    if category == "other":
        return ~Q(action__in=list(ACTIONS))
    return Q(action__in=codes_of_category(category))


def audit_events(filters: AuditFilters, events: QuerySet[AuditEvent] | None = None) -> QuerySet[AuditEvent]:
    """The events (of ``events``, default all) ``filters`` selects, newest first (in the
    order they were recorded)."""
    events = AuditEvent.objects.all() if events is None else events
    if filters.actor:
        events = events.filter(_actor_q(filters.actor))
    if filters.action:
        events = events.filter(action=filters.action)
    if filters.category:
        events = events.filter(_category_q(filters.category))
    if filters.since is not None:
        events = events.filter(created_at__gte=filters.since)
    if filters.until is not None:
        events = events.filter(created_at__lt=filters.until)
    if filters.target_type:
        events = events.filter(target_type=filters.target_type)
    if filters.target:
        events = events.filter(Q(target_id=filters.target) | Q(target_repr__icontains=filters.target))
    return events.order_by("-pk")


def audit_events_page(
    filters: AuditFilters, *, before: int | None = None, size: int = PAGE_SIZE
) -> tuple[list[AuditEvent], int | None]:
    """One page of the events, newest first: those recorded before the event ``before``
    (None: from the newest), and the key the next page starts below (None: the last page).
    Keyset: one index range scan however deep, and events recorded meanwhile never shift
    a page."""
    events = audit_events(filters)
    if before is not None:
        events = events.filter(pk__lt=before)
    rows = list(events[: size + 1])
    if len(rows) <= size:
        return rows, None
    rows = rows[:size]
    return rows, rows[-1].pk


def _recent() -> QuerySet[AuditEvent]:
    newest = AuditEvent.objects.order_by("-pk").values("pk")[:CHOICES_FROM]
    return AuditEvent.objects.filter(pk__in=newest)


def audit_actor_choices(selected: str = "") -> list[tuple[str, str]]:
    """Who appears among the newest events (and ``selected``, the actor a filter names), as
    (filter value, name), by name; the system last."""
    seen: dict[str, str] = {}
    recent = _recent().exclude(actor_kind=AuditEvent.ActorKind.SYSTEM)
    if selected and selected != SYSTEM:
        recent = recent | AuditEvent.objects.filter(_actor_q(selected)).filter(
            pk__in=AuditEvent.objects.filter(_actor_q(selected)).order_by("-pk").values("pk")[:1]
        )
    rows = (
        recent.values_list("actor_kind", "actor_id", "actor_label")
        .order_by("actor_kind", "actor_id", "-pk")
        .distinct("actor_kind", "actor_id")
    )
    for kind, ident, label in rows:
        if ident is None:
            continue
        suffix = {"api_key": " (API key)", "staff": " (platform staff)"}.get(kind, "")
        seen[f"{kind}:{ident}"] = f"{label or kind}{suffix}"
    choices = sorted(seen.items(), key=lambda item: item[1].lower())
    return [*choices, (SYSTEM, "System")]


def audit_target_types() -> list[str]:
    """The kinds of target the newest events name, and every kind the apps record (for the
    filter)."""
    rows = _recent().exclude(target_type="").values_list("target_type", flat=True)
    return sorted(set(rows.order_by().distinct()) | set(TARGET_TYPES))


def target_type_choices() -> list[tuple[str, str]]:
    return [(t, target_type_shown(t)) for t in audit_target_types()]


def category_choices() -> list[tuple[str, str]]:
    return list(CATEGORIES.items())


def action_choices() -> list[tuple[str, str]]:
    """Every catalogued action, grouped by category (for a <select> with optgroups)."""
    return [(code, f"{CATEGORIES[a.category]}: {a.label}") for code, a in ACTIONS.items()]


def actor_shown(event: AuditEvent) -> str:
    """Who, in words: the member's email, the API key's name, the staff member, "System"."""
    if event.actor_kind == AuditEvent.ActorKind.SYSTEM:
        return "System"
    return event.actor_label or event.get_actor_kind_display()


# Targets in words (model names otherwise); an app adding a target type may add it here.
TARGET_TYPES: dict[str, str] = {
    "tenant": "Workspace",
    "membership": "Member",
    "invitation": "Invitation",
    "apikey": "API key",
    "widget": "Widget",
    "automationrule": "Automation",
    "knowledgebase": "Knowledge base",
    "source": "Knowledge source",
    "endpoint": "Webhook endpoint",
    "export": "Export",
    "supportaccess": "Support access",
}


def target_type_shown(target_type: str) -> str:
    return TARGET_TYPES.get(target_type, target_type.replace("_", " ").capitalize())


def _words(name: str) -> str:
    """A field's name for people: ``time_zone`` → "Time zone"."""
    return name.replace("_", " ").capitalize()


def _value(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "—"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_value(v)}" for k, v in value.items())
    return str(value)


def details_of(metadata: dict[str, Any]) -> list[tuple[str, str]]:
    """The event's details as (name, words) lines: a change reads "old → new", the list of
    changed fields "Changed: a, b"."""
    lines: list[tuple[str, str]] = []
    for name, value in metadata.items():
        label = _words(name)
        if name == "changed" and isinstance(value, list):
            lines.insert(0, ("Changed", ", ".join(_words(str(v)) for v in value) or "—"))
        elif isinstance(value, dict) and set(value) == {"from", "to"}:
            lines.append((label, f"{_value(value['from'])} → {_value(value['to'])}"))
        else:
            lines.append((label, _value(value)))
    return lines


def details_text(metadata: dict[str, Any]) -> str:
    """The details on one line (the CSV's column)."""
    return "; ".join(f"{name}: {words}" for name, words in details_of(metadata))


@dataclass(frozen=True)
class EventRow:
    """An event as the page shows it."""

    event: AuditEvent
    who: str
    what: str
    category: str
    target_type: str
    details: list[tuple[str, str]]


def event_rows(events: list[AuditEvent]) -> list[EventRow]:
    return [
        EventRow(
            event=e,
            who=actor_shown(e),
            what=action_label(e.action),
            category=CATEGORIES.get(action_category(e.action), ""),
            target_type=target_type_shown(e.target_type) if e.target_type else "",
            details=details_of(e.metadata or {}),
        )
        for e in events
    ]


def csv_row(event: AuditEvent) -> list[Any]:
    """An event as a row of the CSV export (``CSV_HEADER``)."""
    return [
        event.created_at,
        event.get_actor_kind_display(),
        actor_shown(event),
        event.action,
        action_label(event.action),
        CATEGORIES.get(action_category(event.action), ""),
        event.target_type,
        event.target_id,
        event.target_repr,
        details_text(event.metadata or {}),
        event.ip_address or "",
    ]


CSV_HEADER = [
    "Time",
    "Actor kind",
    "Actor",
    "Action code",
    "Action",
    "Category",
    "Target type",
    "Target id",
    "Target",
    "Details",
    "IP address",
]
