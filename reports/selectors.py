"""Reads of the reports app."""

from __future__ import annotations

from .models import ReportSubscription


def report_subscription_of(user_id: int) -> ReportSubscription:
    """The member's stored choice, or the default (unsaved)."""
    return ReportSubscription.objects.filter(user_id=user_id).first() or ReportSubscription(user_id=user_id)
