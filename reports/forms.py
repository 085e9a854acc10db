"""The member's choice of email report."""

from __future__ import annotations

from django import forms

from .models import ReportSubscription


class ReportPreferencesForm(forms.Form):
    frequency = forms.ChoiceField(
        label="Email me a report",
        choices=[
            (ReportSubscription.Frequency.WEEKLY, "Weekly: last week's figures, on Monday mornings"),
            (ReportSubscription.Frequency.DAILY, "Daily: yesterday's figures, every morning"),
            (ReportSubscription.Frequency.OFF, "Off: no reports"),
        ],
        widget=forms.RadioSelect,
        error_messages={
            "invalid_choice": "Choose off, daily or weekly.",
            "required": "Choose off, daily or weekly.",
        },
    )
