"""Template tags of the design system (used by the components in templates/cotton/)."""

from __future__ import annotations

from typing import Any

from django import template
from django.forms import BoundField
from django.utils.safestring import SafeString

register = template.Library()


@register.simple_tag
def field_control(field: BoundField, help: str = "") -> SafeString:
    """The field's control, described by its help and errors and marked invalid when it
    has errors (what a screen reader reads when the control gets focus)."""
    attrs: dict[str, Any] = {}
    described = []
    if help or field.help_text:
        described.append(f"{field.auto_id}_help")
    if field.errors:
        described.append(f"{field.auto_id}_errors")
        attrs["aria-invalid"] = "true"
    existing = field.field.widget.attrs.get("aria-describedby")
    if existing:
        described.insert(0, existing)
    if described:
        attrs["aria-describedby"] = " ".join(described)
    return field.as_widget(attrs=attrs)


@register.filter
def initials(value: str) -> str:
    """One or two capitals for an avatar: "Demo Company" -> "DC", "owner@x.com" -> "O"."""
    words = [w for w in str(value).split("@")[0].replace(".", " ").replace("-", " ").split() if w]
    return "".join(w[0] for w in words[:2]).upper() or "?"
