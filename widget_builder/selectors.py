"""Reads for widgets. Preconditions: the tenant's schema is active."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from .models import Widget


def widget_first_url(name: str, fragment: str = "") -> str:
    """A page of the workspace's first widget (the onboarding checklist's links), or the
    widget list when there is none."""
    first = Widget.objects.order_by("pk").values_list("pk", flat=True).first()
    return reverse(name, args=[first]) + fragment if first else reverse("widget_builder:list")


def widget_public_config(widget: Widget) -> dict[str, Any]:
    """What the embedded widget needs to draw itself, from the draft fields. Publishing
    freezes this into ``published_config``; nothing secret ever goes in here."""
    return {
        "name": widget.name,
        "bot_name": widget.bot_name,
        "greeting": widget.greeting,
        "colors": {"primary": widget.primary_color, "text": widget.text_color},
        "position": widget.position,
        "offset": {"x": widget.offset_x, "y": widget.offset_y},
        "theme": widget.theme,
        "launcher_icon": widget.launcher_icon,
        "avatar": widget.avatar,
        "launcher_image": widget.launcher_image,
        "locale": widget.locale,
        "suggested_questions": widget.suggested_questions,
        "custom_css": widget.custom_css,
        "branding": widget.show_branding,
        "business_hours": widget.business_hours,
        "offline_message": widget.offline_message,
        "prechat": {
            "enabled": widget.prechat_enabled,
            "fields": widget.prechat_fields,
            "consent": (
                {"text": widget.consent_text, "url": widget.consent_url, "version": widget.consent_version}
                if widget.consent_text
                else None
            ),
        },
    }
