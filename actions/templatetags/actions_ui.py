"""Template filters of the AI actions' pages."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from django import template

from ..models import ActionCall

register = template.Library()
STATUS_WORDS = dict(ActionCall.Status.choices)


@register.filter
def action_host(url: str) -> str:
    """The host (and port) an action calls, e.g. ``shop.example.com``."""
    return urlsplit(url).netloc or url


@register.filter
def action_status(status: str) -> str:
    """A call's status in words."""
    return str(STATUS_WORDS.get(status, status))


@register.filter
def pretty_json(value: object) -> str:
    """A call's inputs, indented for reading."""
    return json.dumps(value, indent=2, ensure_ascii=False)
