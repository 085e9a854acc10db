"""The agent socket's path for the app shell's ``<meta name="inbox-socket">``, read by
``static/chat/inbox.js`` on every dashboard page (live counts, the unread badge and
notifications everywhere; the inbox pages add messages and typing): the path when this
server speaks WebSocket (ASGI), else "" (the inbox pages poll instead)."""

from __future__ import annotations

from typing import Any

from django import template
from django.core.handlers.asgi import ASGIRequest

register = template.Library()

AGENT_SOCKET = "/ws/agent/"


@register.simple_tag(takes_context=True)
def inbox_socket_path(context: dict[str, Any]) -> str:
    return AGENT_SOCKET if isinstance(context.get("request"), ASGIRequest) else ""
