"""The audit log page's filters (GET): who, what, when (days of the workspace's time zone)
and which target. A bad value is ignored, not an error: the page shows what is valid."""

from __future__ import annotations

from datetime import datetime, time, timedelta, tzinfo
from typing import Any

from django import forms

from .selectors import (
    AuditFilters,
    action_choices,
    audit_actor_choices,
    category_choices,
    target_type_choices,
)

FILTERS = ("actor", "category", "action", "date_from", "date_to", "target_type", "target")


class AuditFilterForm(forms.Form):
    actor = forms.ChoiceField(label="Who", required=False, choices=[])
    category = forms.ChoiceField(label="Category", required=False, choices=[])
    action = forms.ChoiceField(label="Action", required=False, choices=[])
    date_from = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    target_type = forms.ChoiceField(label="Target type", required=False, choices=[])
    target = forms.CharField(label="Target", required=False, max_length=100)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        fields: dict[str, Any] = self.fields
        selected = str((self.data or {}).get("actor", ""))[:40]
        fields["actor"].choices = [("", "Anyone"), *audit_actor_choices(selected)]
        fields["category"].choices = [("", "All categories"), *category_choices()]
        fields["action"].choices = [("", "All actions"), *action_choices()]
        fields["target_type"].choices = [("", "Any target"), *target_type_choices()]
        fields["target"].widget.attrs["placeholder"] = "Name or id"

    def values(self) -> dict[str, Any]:
        """The valid fields' values (an invalid one is left out)."""
        self.is_valid()
        cleaned = getattr(self, "cleaned_data", {})
        return {name: cleaned[name] for name in FILTERS if cleaned.get(name)}

    def active_filters(self) -> int:
        return len(self.values())

    def audit_filters(self, tz: tzinfo) -> AuditFilters:
        """The filters, days read in ``tz`` (the workspace's time zone): from the start of
        ``date_from`` to the end of ``date_to``."""
        values = self.values()
        since = until = None
        if values.get("date_from"):
            since = datetime.combine(values["date_from"], time.min, tzinfo=tz)
        if values.get("date_to"):
            until = datetime.combine(values["date_to"] + timedelta(days=1), time.min, tzinfo=tz)
        return AuditFilters(
            actor=values.get("actor", ""),
            action=values.get("action", ""),
            category=values.get("category", ""),
            since=since,
            until=until,
            target_type=values.get("target_type", ""),
            target=values.get("target", "").strip(),
        )
