"""Writes for the people who answer: presence heartbeats, their inbox preferences, the
workspace's inbox settings and canned replies. Preconditions: the tenant's schema is
active."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from audit.services import Caller, audit_record, field_changes
from saas.errors import ValidationFailed
from widget_builder.models import Widget

from ..models import AgentProfile, CannedReply, InboxSettings
from ..presence import agent_presence, inbox_settings
from ..realtime import events

PROFILE_FIELDS = frozenset(
    {
        "capacity",
        "accepts_auto_assign",
        "away",
        "notify_sound",
        "notify_browser",
        "email_on_handoff",
        "email_on_assigned",
        "email_on_replies",
    }
)
SETTINGS_FIELDS = frozenset({"visibility", "auto_assign", "offline_policy", "availability"})


def _invalid(field: str, message: str, code: str = "invalid") -> ValidationFailed:
    return ValidationFailed(errors={field: [{"code": code, "message": message}]})


def agent_heartbeat(*, user_id: int, away: bool = False) -> tuple[str, str]:
    """A heartbeat from one of the member's sockets (every 25 s): online, or away when the
    agent said so or left the tab. Returns (presence before, presence now); a change is
    published to the workspace's inbox."""
    now = timezone.now()
    with transaction.atomic():
        profile, _ = AgentProfile.objects.select_for_update().get_or_create(user_id=user_id)
        before = agent_presence(profile, now)
        profile.last_heartbeat_at, profile.away, profile.offline_handled = now, away, False
        profile.save(update_fields=["last_heartbeat_at", "away", "offline_handled"])
        after = agent_presence(profile, now)
        if before != after:
            events.presence_changed(user_id, after)
    return before, after


def agent_signed_off(*, user_id: int) -> None:
    """The member's last socket closed on purpose (signing out): offline at once."""
    with transaction.atomic():
        updated = AgentProfile.objects.filter(user_id=user_id, last_heartbeat_at__isnull=False).update(
            last_heartbeat_at=None
        )
        if updated:
            events.presence_changed(user_id, "offline")


def agent_profile_update(*, user_id: int, widget_ids: list[int] | None = None, **fields: Any) -> AgentProfile:
    """The member's inbox preferences (``PROFILE_FIELDS``) and, when given, the widgets they
    serve (an empty list: every widget)."""
    unknown = set(fields) - PROFILE_FIELDS
    if unknown:
        raise _invalid(sorted(unknown)[0], "Not a preference.", "unknown")
    capacity = fields.get("capacity")
    if capacity is not None and not (isinstance(capacity, int) and 1 <= capacity <= 100):
        raise _invalid("capacity", "Between 1 and 100 conversations at a time.")
    widgets: list[Widget] = []
    if widget_ids is not None:
        widgets = list(Widget.objects.filter(pk__in=widget_ids))
        if len(widgets) != len(set(widget_ids)):
            raise _invalid("widgets", "One of these widgets does not exist.")
    with transaction.atomic():
        profile, _ = AgentProfile.objects.select_for_update().get_or_create(user_id=user_id)
        for name, value in fields.items():
            setattr(profile, name, value)
        if fields:
            profile.save(update_fields=list(fields))
        if widget_ids is not None:
            profile.widgets.set(widgets)
        if "away" in fields:
            events.presence_changed(user_id, agent_presence(profile))
    return profile


def inbox_settings_update(*, request: Caller | None = None, **fields: Any) -> InboxSettings:
    """The workspace's inbox rules (``SETTINGS_FIELDS``), validated against their choices;
    recorded as ``inbox.settings_changed`` (old and new values) when any changed."""
    choices = {
        "visibility": InboxSettings.Visibility.values,
        "offline_policy": InboxSettings.OfflinePolicy.values,
        "availability": InboxSettings.Availability.values,
    }
    for name, value in fields.items():
        if name not in SETTINGS_FIELDS:
            raise _invalid(name, "Not an inbox setting.", "unknown")
        if name in choices and value not in choices[name]:
            raise _invalid(name, f"Choose one of: {', '.join(choices[name])}.")
    with transaction.atomic():
        settings = inbox_settings()
        before = {name: getattr(settings, name) for name in fields}
        for name, value in fields.items():
            setattr(settings, name, value)
        settings.save()
        metadata = field_changes(before, fields, shown=fields)
        if metadata:
            audit_record(action="inbox.settings_changed", request=request, metadata=metadata)
    return settings


def _canned_clean(shortcut: str, title: str, text: str) -> tuple[str, str, str]:
    shortcut = slugify(shortcut or "")[:40]
    errors: dict[str, list[dict[str, str]]] = {}
    if not shortcut:
        errors["shortcut"] = [{"code": "required", "message": "Give a shortcut, such as thanks."}]
    if not (title or "").strip():
        errors["title"] = [{"code": "required", "message": "Give the reply a title."}]
    if not (text or "").strip():
        errors["text"] = [{"code": "required", "message": "Write the reply."}]
    elif len(text) > 4000:
        errors["text"] = [{"code": "too_long", "message": "Keep replies under 4,000 characters."}]
    if errors:
        raise ValidationFailed(errors=errors)
    return shortcut, title.strip()[:120], text.strip()


def _canned_save(reply: CannedReply) -> CannedReply:
    try:
        with transaction.atomic():
            reply.save()
    except IntegrityError as exc:
        raise _invalid("shortcut", f"/{reply.shortcut} is already used by another reply.", "taken") from exc
    return reply


def canned_reply_create(
    *, shortcut: str, title: str, text: str, by_user_id: int | None = None
) -> CannedReply:
    shortcut, title, text = _canned_clean(shortcut, title, text)
    return _canned_save(CannedReply(shortcut=shortcut, title=title, text=text, created_by_user_id=by_user_id))


def canned_reply_update(*, reply: CannedReply, shortcut: str, title: str, text: str) -> CannedReply:
    reply.shortcut, reply.title, reply.text = _canned_clean(shortcut, title, text)
    return _canned_save(reply)


def canned_reply_delete(*, reply: CannedReply) -> None:
    with transaction.atomic():
        reply.delete()
