"""The dashboard's notifications script (``static/chat/notify.js``) with the signed-in
member's preferences (``AgentProfile.notify_sound``, ``notify_browser``), for the app
shell: ``{% load chat_notify %}{% notify_script %}``."""

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
def notify_script(context: dict[str, Any]) -> SafeString | str:
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
        '<script src="{}" data-notify-sound="{}" data-notify-browser="{}" data-icons="{}" '
        'data-conversation-url="{}" defer></script>',
        static("chat/notify.js"),
        "1" if sound else "0",
        "1" if browser else "0",
        static("ui/icons.svg"),
        conversation,
    )
