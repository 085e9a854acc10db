"""The endpoint form of the dashboard: URL, description, and the events, grouped."""

from __future__ import annotations

from django import forms

from .payloads import EVENT_GROUPS


class EndpointForm(forms.Form):
    url = forms.CharField(
        label="Endpoint URL",
        max_length=2000,
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/webhooks", "inputmode": "url"}),
        help_text="Public https address of your server. Redirects are not followed.",
    )
    description = forms.CharField(label="Description", max_length=200, required=False)
    event_types = forms.MultipleChoiceField(
        label="Events",
        choices=[(group, types) for group, types in EVENT_GROUPS.items()],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one event."},
    )
