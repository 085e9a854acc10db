"""Conversations live in the tenant's schema. Messages, contacts and the answer pipeline
arrive with the chat engine issue; the status set below is the one it will use."""

import uuid

from django.db import models
from django.utils import timezone


class Contact(models.Model):
    """A visitor of a widget, and what they told us (prechat answers, consent). Created
    when the widget starts a visitor session; the visitor's bearer token names it."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    widget = models.ForeignKey("widget_builder.Widget", on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=120, blank=True, default="")
    email = models.EmailField(blank=True, default="")
    phone = models.CharField(max_length=20, blank=True, default="")
    country = models.CharField(max_length=2, blank=True, default="")
    answers = models.JSONField(default=dict, blank=True)
    consent_given_at = models.DateTimeField(null=True, blank=True)
    consent_text = models.CharField(max_length=500, blank=True, default="")
    consent_version = models.PositiveIntegerField(null=True, blank=True)
    page_url = models.URLField(max_length=2000, blank=True, default="")
    referrer = models.URLField(max_length=2000, blank=True, default="")
    user_agent = models.CharField(max_length=400, blank=True, default="")
    locale = models.CharField(max_length=16, blank=True, default="")
    # Set by identify: the customer's own user id, and whether its signature was verified.
    external_id = models.CharField(max_length=200, blank=True, default="", db_index=True)
    identity_verified = models.BooleanField(default=False)
    prechat_submitted_at = models.DateTimeField(null=True, blank=True)
    flagged_as_bot = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.email or self.name or f"Visitor {self.public_id}"


class Conversation(models.Model):
    class Status(models.TextChoices):
        BOT = "bot", "With the bot"
        WAITING = "waiting", "Waiting for an agent"
        AGENT = "agent", "With an agent"
        CLOSED = "closed", "Closed"

    widget = models.ForeignKey(
        "widget_builder.Widget", on_delete=models.PROTECT, related_name="conversations"
    )
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.BOT, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Conversation {self.pk}"
