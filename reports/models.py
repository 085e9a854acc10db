"""A member's choice of email report in this workspace, and how far their reports went."""

from __future__ import annotations

from django.db import models


class ReportSubscription(models.Model):
    """One per member who has a choice stored (created on first use). Owners and admins
    without a row get the default (weekly); agents never get reports."""

    class Frequency(models.TextChoices):
        OFF = "off", "Off"
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly"

    user_id = models.PositiveIntegerField(unique=True)
    frequency = models.CharField(max_length=8, choices=Frequency.choices, default=Frequency.WEEKLY)
    # The last day (workspace's time zone) the last report covered: a period is sent once.
    sent_through = models.DateField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Report for {self.user_id}: {self.frequency}"
