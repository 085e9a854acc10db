"""The builder's form for a widget's draft settings."""

from __future__ import annotations

import json
import re

from django import forms

from .models import Widget

_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
MIN_CONTRAST = 4.5  # WCAG AA for normal text


def _luminance(hex_color: str) -> float:
    channels = [int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


class WidgetSettingsForm(forms.ModelForm):
    allowed_origins_text = forms.CharField(
        label="Allowed domains",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line: https://www.example.com or https://*.example.com. "
        "Empty: any site can embed it.",
    )
    prechat_fields_json = forms.CharField(
        label="Prechat fields (JSON)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text='For example [{"kind": "email", "label": "Your email", "required": true}]. '
        "Kinds: name, email, phone, country, message, text, select (with options), checkbox.",
    )

    class Meta:
        model = Widget
        fields = [
            "name",
            "bot_name",
            "greeting",
            "primary_color",
            "text_color",
            "position",
            "prechat_enabled",
            "consent_text",
            "consent_url",
            "identity_enforced",
        ]
        widgets = {
            "primary_color": forms.TextInput(attrs={"type": "color"}),
            "text_color": forms.TextInput(attrs={"type": "color"}),
            "greeting": forms.Textarea(attrs={"rows": 2}),
        }

    consent_url = forms.URLField(label="Privacy policy link", required=False, assume_scheme="https")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["allowed_origins_text"].initial = "\n".join(self.instance.allowed_origins)
        self.fields["prechat_fields_json"].initial = json.dumps(self.instance.prechat_fields, indent=1)

    def clean(self):
        data = super().clean()
        for name in ("primary_color", "text_color"):
            if data.get(name) and not _HEX.match(data[name]):
                self.add_error(name, "Use a colour like #2d5bd7.")
        if not self.errors and contrast_ratio(data["primary_color"], data["text_color"]) < MIN_CONTRAST:
            self.add_error(
                "text_color",
                f"Text on the primary colour needs a contrast of at least {MIN_CONTRAST}:1 to stay readable.",
            )
        raw = data.get("prechat_fields_json") or "[]"
        try:
            data["prechat_fields"] = json.loads(raw)
        except json.JSONDecodeError:
            self.add_error("prechat_fields_json", "This is not valid JSON.")
        data["allowed_origins"] = [
            line.strip() for line in (data.get("allowed_origins_text") or "").splitlines() if line.strip()
        ]
        return data
