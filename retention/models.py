"""How long the workspace keeps what visitors leave, and what the nightly purge removed.

Both live in the tenant's schema. ``RetentionPolicy`` is one row (``retention.selectors.
retention_policy`` returns the unsaved default, "forever" bounded by the plan, until an
owner or admin saves it); ``PurgeRun`` is one row per purge of the workspace, its counts
kept up to date batch by batch, so a run killed halfway says what it had removed.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class RetentionPolicy(models.Model):
    """Days each kind of data is kept; ``None`` keeps it as long as the plan allows
    (forever on a plan without a bound). Conversations count from their last message."""

    conversations_days = models.PositiveIntegerField(null=True, blank=True)
    attachments_days = models.PositiveIntegerField(null=True, blank=True)
    contacts_days = models.PositiveIntegerField(null=True, blank=True)
    # Set when a plan's bound narrowed a longer choice (what it was, the plan, when), so the
    # settings page can say so; cleared by the next save.
    narrowed = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "retention policies"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(conversations_days__gte=1), name="retention_conv_days_min"
            ),
            models.CheckConstraint(
                condition=models.Q(attachments_days__gte=1), name="retention_att_days_min"
            ),
            models.CheckConstraint(
                condition=models.Q(contacts_days__gte=1), name="retention_contact_days_min"
            ),
        ]

    def __str__(self) -> str:
        return "Retention policy"


class PurgeRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        INTERRUPTED = "interrupted", "Interrupted (finished by a later run)"

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The limits in force for this run (days, None: kept) and what it removed.
    limits = models.JSONField(default=dict, blank=True)
    conversations = models.PositiveIntegerField(default=0)
    messages = models.PositiveIntegerField(default=0)
    attachments = models.PositiveIntegerField(default=0)
    contacts = models.PositiveIntegerField(default=0)
    batches = models.PositiveIntegerField(default=0)
    longest_batch_ms = models.PositiveIntegerField(default=0)  # the longest transaction (locks held)
    error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"Purge {self.started_at:%Y-%m-%d %H:%M} ({self.status})"

    def counts(self) -> dict[str, int]:
        return {
            "conversations": self.conversations,
            "messages": self.messages,
            "attachments": self.attachments,
            "contacts": self.contacts,
        }
