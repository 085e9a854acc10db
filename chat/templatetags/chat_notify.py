"""The signed-in member's notification preferences (``AgentProfile.notify_sound``,
``notify_browser``) as data- attributes of the app shell's ``<body>``, read by
``static/chat/notify.js``: ``<body ...{% notify_attrs %}>``."""

from __future__ import annotations

from typing import Any

from django import template
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from ..models import AgentProfile

register = template.Library()


@register.simple_tag(takes_context=True)
def notify_attrs(context: dict[str, Any]) -> SafeString | str:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return ""
    prefs = AgentProfile.objects.filter(user_id=user.pk).values_list("notify_sound", "notify_browser").first()
    sound, browser = prefs or (True, True)
    try:
        conversation = reverse("chat:conversation", args=[0]).replace("/0/", "/{id}/")
    except NoReverseMatch:
        conversation = ""
    return format_html(
        ' data-notify-sound="{}" data-notify-browser="{}" data-notify-icons="{}"'
        ' data-notify-conversation-url="{}"',
        "1" if sound else "0",
        "1" if browser else "0",
        static("ui/icons.svg"),
        conversation,
    )
