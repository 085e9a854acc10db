"""Conversations live in the tenant's schema. Messages, contacts and the answer pipeline
arrive with the chat engine issue; the status set below is the one it will use."""

from django.db import models
from django.utils import timezone


class Conversation(models.Model):
    class Status(models.TextChoices):
        BOT = "bot", "With the bot"
        WAITING = "waiting", "Waiting for an agent"
        AGENT = "agent", "With an agent"
        CLOSED = "closed", "Closed"

    widget = models.ForeignKey(
        "widget_builder.Widget", on_delete=models.PROTECT, related_name="conversations"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.BOT, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Conversation {self.pk}"
