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
    # Highest sequence number given to a message; bumped under a row lock (chat.services).
    last_seq = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Conversation {self.pk}"


class Message(models.Model):
    """One message in a conversation. ``seq`` numbers them 1, 2, 3… per conversation, so a
    reconnecting client asks for everything after the last number it saw."""

    class Role(models.TextChoices):
        VISITOR = "visitor", "Visitor"
        BOT = "bot", "Bot"
        AGENT = "agent", "Agent"
        SYSTEM = "system", "System"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    seq = models.PositiveIntegerField()
    role = models.CharField(max_length=8, choices=Role.choices)
    text = models.TextField()
    citations = models.JSONField(default=list, blank=True)
    attachments = models.JSONField(default=list, blank=True)
    # Sent by the client so a retried or doubled send stores one message.
    client_message_id = models.CharField(max_length=64, blank=True, default="")
    tokens_in = models.PositiveIntegerField(null=True, blank=True)
    tokens_out = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["conversation", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="message_seq_unique"),
            models.UniqueConstraint(
                fields=["conversation", "client_message_id"],
                condition=~models.Q(client_message_id=""),
                name="message_client_id_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.conversation_id}#{self.seq} {self.role}"
