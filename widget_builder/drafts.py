"""The builder's draft settings of a widget, as its form hands them to
``services.widget_settings_update`` (validated; the service stores them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Draft fields stored as the builder sends them (after the form's validation).
PLAIN_FIELDS = (
    "name",
    "bot_name",
    "greeting",
    "primary_color",
    "text_color",
    "position",
    "offset_x",
    "offset_y",
    "theme",
    "launcher_icon",
    "locale",
    "custom_css",
    "show_branding",
    "offline_message",
    "identity_enforced",
)


@dataclass(frozen=True)
class WidgetDraft:
    name: str
    bot_name: str
    greeting: str
    primary_color: str
    text_color: str
    position: str
    offset_x: int
    offset_y: int
    theme: str
    launcher_icon: str
    locale: str
    custom_css: str
    show_branding: bool
    offline_message: str
    identity_enforced: bool
    suggested_questions: list[str] = field(default_factory=list)
    business_hours: dict[str, Any] = field(default_factory=dict)  # {} = always open
    allowed_origins: list[str] = field(default_factory=list)  # effective at once, not a draft
    prechat_enabled: bool = False
    prechat_fields: list[Any] = field(default_factory=list)  # validated by the service
    consent_text: str = ""
    consent_url: str = ""
    avatar: str | None = None  # a new image as a data: URI; None keeps the current one
    launcher_image: str | None = None
    remove_images: bool = False  # drop both images (a new upload in the same draft wins)
