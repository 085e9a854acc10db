"""Who is there to answer: agents' presence from their heartbeats, the inbox settings, and
whether a widget's visitors can reach a person now. Reads only; the heartbeats and
settings are written by ``chat.services.agents``. Preconditions: the tenant's schema is
active."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from widget_builder.hours import is_open
from widget_builder.models import Widget

from .models import AgentProfile, BotSettings, Conversation, InboxSettings

# A socket sends a heartbeat every 25 s; an agent is offline once two are missed.
HEARTBEAT_SECONDS = 25
ONLINE_WINDOW = timedelta(seconds=70)
ONLINE, AWAY, OFFLINE = "online", "away", "offline"
# Roles that see every conversation whatever the visibility setting.
MANAGER_ROLES = frozenset({"owner", "admin", "support"})


def inbox_settings() -> InboxSettings:
    """The workspace's inbox settings: the stored row, or the unsaved defaults."""
    return InboxSettings.objects.order_by("pk").first() or InboxSettings()


def agent_profile_for(user_id: int) -> AgentProfile:
    """The member's profile here, or the unsaved defaults."""
    return AgentProfile.objects.filter(user_id=user_id).first() or AgentProfile(user_id=user_id)


def agent_presence(profile: AgentProfile, now: datetime | None = None) -> str:
    beat = profile.last_heartbeat_at
    if beat is None or beat < (now or timezone.now()) - ONLINE_WINDOW:
        return OFFLINE
    return AWAY if profile.away else ONLINE


def _online_filter(now: datetime) -> Q:
    return Q(last_heartbeat_at__gte=now - ONLINE_WINDOW, away=False)


def agents_online(*, widget: Widget | None = None, now: datetime | None = None) -> list[AgentProfile]:
    """Profiles of agents online now (heartbeat within the window, not away); with a widget,
    only those serving it (an agent with no widgets listed serves every widget)."""
    profiles = AgentProfile.objects.filter(_online_filter(now or timezone.now()))
    if widget is not None:
        profiles = profiles.filter(Q(widgets=widget) | Q(widgets__isnull=True)).distinct()
    return list(profiles.order_by("pk"))


def within_business_hours(widget: Widget, now: datetime | None = None) -> bool:
    hours = (widget.published_config or {}).get("business_hours") or {}
    return bool(hours) and is_open(hours, now)


def human_support_enabled(widget: Widget) -> bool:
    value = BotSettings.objects.filter(widget=widget).values_list("human_support", flat=True).first()
    return True if value is None else bool(value)


def human_available(widget: Widget, now: datetime | None = None) -> bool:
    """Whether "Talk to a person" can promise a reply now: human support is on for the
    widget and, by the workspace's rule, an agent serving it is online and/or the widget
    is within its business hours."""
    if not widget.is_enabled or not human_support_enabled(widget):
        return False
    rule = inbox_settings().availability
    online = (
        bool(agents_online(widget=widget, now=now))
        if rule != InboxSettings.Availability.BUSINESS_HOURS
        else False
    )
    if rule == InboxSettings.Availability.AGENTS_ONLINE:
        return online
    hours = within_business_hours(widget, now)
    return hours if rule == InboxSettings.Availability.BUSINESS_HOURS else (online or hours)


def visible_widget_ids(*, user_id: int, role: str) -> set[int] | None:
    """The widgets whose conversations this member may see: None for all of them (owners,
    admins, support, or a workspace where agents see everything), else the agent's
    widgets (an agent with none listed serves, and sees, every widget)."""
    if role in MANAGER_ROLES or inbox_settings().visibility == InboxSettings.Visibility.ALL:
        return None
    ids = set(
        AgentProfile.widgets.through.objects.filter(agentprofile__user_id=user_id).values_list(
            "widget_id", flat=True
        )
    )
    return ids or None


def conversation_visible(conversation: Conversation, *, user_id: int, role: str) -> bool:
    widgets = visible_widget_ids(user_id=user_id, role=role)
    return widgets is None or conversation.widget_id in widgets
