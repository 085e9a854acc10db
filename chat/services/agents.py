"""Placeholder for the lead's ``chat.services.agents`` (issue 14): the same names, the
least behaviour the inbox pages need. On merge, the lead's module replaces this one whole."""

from __future__ import annotations

from typing import Any

from ..models import AgentProfile, CannedReply, InboxSettings

PROFILE_FIELDS = {
    "capacity",
    "accepts_auto_assign",
    "away",
    "notify_sound",
    "notify_browser",
    "email_on_handoff",
    "email_on_assigned",
    "email_on_replies",
}


def agent_profile_update(*, user_id: int, **fields: Any) -> AgentProfile:
    profile, _ = AgentProfile.objects.get_or_create(user_id=user_id)
    widgets = fields.pop("widgets", None)
    for name, value in fields.items():
        if name in PROFILE_FIELDS:
            setattr(profile, name, value)
    profile.save()
    if widgets is not None:
        profile.widgets.set(widgets)
    return profile


def inbox_settings_update(**fields: Any) -> InboxSettings:
    settings = InboxSettings.objects.order_by("pk").first() or InboxSettings()
    for name, value in fields.items():
        setattr(settings, name, value)
    settings.save()
    return settings


def canned_reply_create(
    *, shortcut: str, title: str, text: str, created_by_user_id: int | None = None
) -> CannedReply:
    return CannedReply.objects.create(
        shortcut=shortcut, title=title, text=text, created_by_user_id=created_by_user_id
    )


def canned_reply_update(*, reply: CannedReply, **fields: Any) -> CannedReply:
    for name, value in fields.items():
        setattr(reply, name, value)
    reply.save()
    return reply


def canned_reply_delete(*, reply: CannedReply) -> None:
    reply.delete()
