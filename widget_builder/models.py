"""Widgets live in the tenant's schema. The builder edits the draft fields; publishing
copies them into ``published_config``, which is all the public widget API ever serves."""

import secrets
from typing import Any

from django.db import models
from django.dispatch import Signal
from django.utils import timezone

# Rows changed by ``Widget.objects....update()`` (no post_save): sent with ``keys``, the
# changed widgets' keys, so their cached copies are dropped (widget_builder.snapshots).
widgets_updated = Signal()


class WidgetQuerySet(models.QuerySet["Widget"]):
    def update(self, **kwargs: Any) -> int:
        keys = list(self.values_list("key", flat=True))
        count = super().update(**kwargs)
        if keys:
            widgets_updated.send(sender=Widget, keys=keys)
        return count


def new_widget_key() -> str:
    return "wk_" + secrets.token_urlsafe(18)


def new_identity_secret() -> str:
    return secrets.token_urlsafe(32)


class Widget(models.Model):
    name = models.CharField(max_length=120)
    # Public, unguessable key carried by the embed snippet.
    key = models.CharField(max_length=40, unique=True, default=new_widget_key)
    is_enabled = models.BooleanField(default=True)
    bot_name = models.CharField(max_length=60, default="Assistant")
    greeting = models.CharField(max_length=500, default="Hi! How can I help you today?")
    primary_color = models.CharField(max_length=7, default="#2d5bd7")
    text_color = models.CharField(max_length=7, default="#ffffff")
    position = models.CharField(
        max_length=12, choices=[("right", "Bottom right"), ("left", "Bottom left")], default="right"
    )
    offset_x = models.PositiveSmallIntegerField(default=20)
    offset_y = models.PositiveSmallIntegerField(default=20)
    theme = models.CharField(
        max_length=8,
        choices=[("auto", "Follow the visitor's system"), ("light", "Light"), ("dark", "Dark")],
        default="auto",
    )
    launcher_icon = models.CharField(
        max_length=12,
        choices=[("chat", "Speech bubble"), ("help", "Question mark"), ("spark", "Spark")],
        default="chat",
    )
    # UI strings: "auto" follows the visitor's browser among the supported languages.
    locale = models.CharField(
        max_length=8,
        choices=[
            ("auto", "Visitor's language"),
            ("en", "English"),
            ("es", "Español"),
            ("fr", "Français"),
            ("de", "Deutsch"),
        ],
        default="auto",
    )
    suggested_questions = models.JSONField(default=list, blank=True)  # up to 4
    # Small images as data: URIs (widget_builder.images): nothing is fetched from elsewhere.
    avatar = models.TextField(blank=True, default="")
    launcher_image = models.TextField(blank=True, default="")
    custom_css = models.TextField(blank=True, default="")  # applied inside the widget's Shadow DOM only
    show_branding = models.BooleanField(default=True)
    # Business hours: {"tz": "Europe/Berlin", "days": {"mon": [["09:00", "17:00"]]}}; empty = always open.
    business_hours = models.JSONField(default=dict, blank=True)
    offline_message = models.CharField(
        max_length=500,
        blank=True,
        default="We're away right now. Leave your details and we'll get back to you.",
    )
    # Prechat form: ordered field definitions (widget_builder.prechat validates them).
    prechat_enabled = models.BooleanField(default=False)
    prechat_fields = models.JSONField(default=list, blank=True)
    # Optional consent checkbox: the tenant's text and privacy link; its version is stored
    # with each acceptance so a later edit never rewrites what a visitor agreed to.
    consent_text = models.CharField(max_length=500, blank=True, default="")
    consent_url = models.URLField(blank=True, default="")
    consent_version = models.PositiveIntegerField(default=1)
    # Normalized origins and *.domain wildcards (widget_builder.origins); empty = any origin.
    allowed_origins = models.JSONField(default=list, blank=True)
    # Identity verification: the customer's server signs user ids with this secret
    # (HMAC-SHA256, hex); when enforced, unsigned or wrongly signed identify calls fail.
    identity_secret = models.CharField(max_length=64, default=new_identity_secret)
    identity_enforced = models.BooleanField(default=False)
    published_config = models.JSONField(default=dict, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    # Set by the builder when the tenant first saves their own design, and when they copy
    # the embed snippet: the onboarding checklist reads them.
    customized_at = models.DateTimeField(null=True, blank=True)
    snippet_copied_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WidgetQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.name
