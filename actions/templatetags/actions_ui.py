"""Template filters of the AI actions' pages."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from django import template

from ..models import ActionCall

register = template.Library()
STATUS_WORDS: dict[str, str] = {value: str(label) for value, label in ActionCall.Status.choices}
# A call's status in a word or two, for badges (the full words in their title).
STATUS_SHORT: dict[str, str] = {
    ActionCall.Status.SUCCEEDED: "Succeeded",
    ActionCall.Status.FAILED: "Error",
    ActionCall.Status.TIMED_OUT: "Timed out",
    ActionCall.Status.UNREADABLE: "Unreadable",
    ActionCall.Status.REFUSED: "Address refused",
    ActionCall.Status.INVALID: "Invalid inputs",
    ActionCall.Status.DENIED: "Not allowed",
    ActionCall.Status.RATE_LIMITED: "Rate limited",
    ActionCall.Status.PAUSED: "Paused",
    ActionCall.Status.DECLINED: "Declined",
    ActionCall.Status.QUOTA_EXCEEDED: "Over quota",
}


@register.filter
def action_host(url: str) -> str:
    """The host (and port) an action calls, e.g. ``shop.example.com``."""
    return urlsplit(url).netloc or url


@register.filter
def action_status(status: str) -> str:
    """A call's status in words."""
    return str(STATUS_WORDS.get(status, status))


@register.filter
def action_status_short(status: str) -> str:
    """A call's status in a word or two."""
    return str(STATUS_SHORT.get(status, status))


@register.filter
def pretty_json(value: object) -> str:
    """A call's inputs, indented for reading."""
    return json.dumps(value, indent=2, ensure_ascii=False)
