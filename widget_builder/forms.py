"""The builder's form for a widget's draft settings."""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import MaxValueValidator

from billing.plans import Plan, plan_get
from saas.errors import ValidationFailed

from .drafts import PLAIN_FIELDS, WidgetDraft
from .hours import DAY_NAMES, business_hours_validate
from .images import image_data_uri
from .models import Widget
from .origins import origin_normalize
from .prechat import prechat_fields_validate

_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
MIN_CONTRAST = 4.5  # WCAG AA for normal text


def _luminance(hex_color: str) -> float:
    channels = [int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def contrast_verdict(primary: str, text: str) -> dict[str, Any] | None:
    """The WCAG verdict of ``text`` on ``primary`` as the builder shows it (the page's
    script computes the same as people pick colours), or None for a colour that is not
    one."""
    if not (_HEX.match(primary or "") and _HEX.match(text or "")):
        return None
    ratio = contrast_ratio(primary, text)
    shown = f"{int(ratio * 10) / 10:.1f}:1"  # rounded down: 4.49 never reads as 4.5
    if ratio >= 7:
        return {"ratio": shown, "level": "AAA", "tone": "success", "ok": True}
    if ratio >= MIN_CONTRAST:
        return {"ratio": shown, "level": "AA", "tone": "success", "ok": True}
    return {"ratio": shown, "level": "too low for text", "tone": "danger", "ok": False}


def _hex_input() -> forms.TextInput:
    return forms.TextInput(
        attrs={
            "maxlength": "7",
            "size": "8",
            "spellcheck": "false",
            "autocomplete": "off",
            "autocapitalize": "off",
            "class": "mono hex",
            "data-color": "",
        }
    )


class WidgetSettingsForm(forms.ModelForm):
    """Shapes and validates the builder's input; ``draft()`` hands it to
    ``services.widget_settings_update`` (the form itself never saves)."""

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
            "offset_x",
            "offset_y",
            "theme",
            "launcher_icon",
            "locale",
            "custom_css",
            "show_branding",
            "offline_message",
            "prechat_enabled",
            "consent_text",
            "consent_url",
            "identity_enforced",
        ]
        widgets = {
            "primary_color": _hex_input(),
            "text_color": _hex_input(),
            "greeting": forms.Textarea(attrs={"rows": 2}),
            "offline_message": forms.Textarea(attrs={"rows": 2}),
            "custom_css": forms.Textarea(attrs={"rows": 10, "spellcheck": "false", "class": "code"}),
        }
        labels = {
            "primary_color": "Primary colour",
            "text_color": "Text colour",
            "offset_x": "Side gap (px)",
            "offset_y": "Bottom gap (px)",
            "locale": "Widget language",
            "launcher_icon": "Launcher icon",
            "show_branding": "Show “Powered by” line",
            "prechat_enabled": "Ask visitors to fill in a form before the chat starts",
            "consent_text": "Consent checkbox text",
            "identity_enforced": "Require verified identity (signed user ids)",
            "custom_css": "Custom CSS",
        }
        help_texts = {
            "primary_color": "The launcher, header and visitor's messages. A hex colour like #2d5bd7.",
            "text_color": "Text and icons on the primary colour.",
            "custom_css": "Applied inside the widget only (its Shadow DOM), for example "
            ".panel { border-radius: 4px }.",
            "consent_text": "Empty: no consent checkbox.",
            "offline_message": "Shown outside business hours.",
        }

    consent_url = forms.URLField(label="Privacy policy link", required=False, assume_scheme="https")
    avatar_upload = forms.FileField(
        label="Bot avatar", required=False, help_text="PNG, JPEG, GIF or WebP, up to 100 KB."
    )
    launcher_upload = forms.FileField(
        label="Custom launcher icon", required=False, help_text="Replaces the built-in icon. Up to 100 KB."
    )
    remove_images = forms.BooleanField(label="Remove the uploaded avatar and icon", required=False)
    suggested_questions_text = forms.CharField(
        label="Suggested questions",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Up to 4, one per line.",
    )
    business_hours_json = forms.CharField(
        label="Business hours (JSON)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text="Empty: always open. For example "
        '{"tz": "Europe/Berlin", "days": {"mon": [["09:00", "17:00"]]}}.',
    )

    def __init__(self, *args, plan: Plan | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.plan = plan or plan_get(None)
        # Errors the builder's editors show on one row ("prechat_fields": {"2": [...]},
        # "business_hours": {"mon": [...]}, "suggested_questions": {"0": [...]}); "_" is
        # the editor as a whole. The same messages are also the fields' own errors.
        self.row_errors: dict[str, dict[str, list[dict[str, str]]]] = {
            "prechat_fields": {},
            "business_hours": {},
            "suggested_questions": {},
        }
        self.fields["suggested_questions_text"].initial = "\n".join(self.instance.suggested_questions)
        self.fields["business_hours_json"].initial = (
            json.dumps(self.instance.business_hours) if self.instance.business_hours else ""
        )
        self.fields["offset_x"].validators.append(MaxValueValidator(200))
        self.fields["offset_y"].validators.append(MaxValueValidator(200))
        self.fields["allowed_origins_text"].initial = "\n".join(self.instance.allowed_origins)
        self.fields["prechat_fields_json"].initial = json.dumps(self.instance.prechat_fields, indent=1)

    def clean(self) -> dict[str, Any]:
        super().clean()  # ModelForm's returns cleaned_data itself
        data = self.cleaned_data
        for name in ("primary_color", "text_color"):
            if data.get(name) and not _HEX.match(data[name]):
                self.add_error(name, "Use a colour like #2d5bd7.")
        if not self.errors and contrast_ratio(data["primary_color"], data["text_color"]) < MIN_CONTRAST:
            self.add_error(
                "text_color",
                f"Text on the primary colour needs a contrast of at least {MIN_CONTRAST}:1 to stay readable.",
            )
        self._clean_prechat(data)
        self._clean_questions(data)
        self._clean_hours(data)
        if data.get("show_branding") is False and not self.plan.remove_branding:
            self.add_error("show_branding", "Removing the “powered by” line needs the Pro plan or above.")
        if len(data.get("custom_css") or "") > 10000:
            self.add_error("custom_css", "Keep custom CSS under 10,000 characters.")
        for upload_field, target in (("avatar_upload", "avatar"), ("launcher_upload", "launcher_image")):
            upload = data.get(upload_field)
            if upload:
                try:
                    data[target] = image_data_uri(upload)
                except DjangoValidationError as exc:
                    self.add_error(upload_field, exc.messages[0])
        data["allowed_origins"] = [
            line.strip() for line in (data.get("allowed_origins_text") or "").splitlines() if line.strip()
        ]
        # Checked here too (the service checks again), so one save reports every mistake.
        for origin in data["allowed_origins"]:
            try:
                origin_normalize(origin)
            except DjangoValidationError as exc:
                self.add_error("allowed_origins_text", f"{origin}: {exc.messages[0]}")
        return data

    def _row_error(
        self, editor: str, field: str, row: str, message: str, shown: str = "", code: str = "invalid"
    ) -> None:
        """An error on one row of an editor (``row`` "_": the editor as a whole): kept for
        the editor (with its code, which names the control) and added to the form field,
        with ``shown`` naming the row there."""
        self.row_errors[editor].setdefault(row, []).append({"code": code, "message": message})
        self.add_error(field, f"{shown}: {message}" if shown else message)

    def _clean_prechat(self, data: dict[str, Any]) -> None:
        try:
            fields = json.loads(data.get("prechat_fields_json") or "[]")
        except json.JSONDecodeError:
            self._row_error("prechat_fields", "prechat_fields_json", "_", "This is not valid JSON.")
            return
        try:
            data["prechat_fields"] = prechat_fields_validate(fields)
        except ValidationFailed as exc:
            for key, problems in (exc.errors or {}).items():
                index = key.partition(".")[2]
                shown = f"Field {int(index) + 1}" if index.isdigit() else ""
                for problem in problems:
                    self._row_error(
                        "prechat_fields",
                        "prechat_fields_json",
                        index or "_",
                        problem["message"],
                        shown,
                        problem["code"],
                    )

    def _clean_questions(self, data: dict[str, Any]) -> None:
        questions = [
            q.strip() for q in (data.get("suggested_questions_text") or "").splitlines() if q.strip()
        ]
        data["suggested_questions"] = questions
        if len(questions) > 4:
            self._row_error(
                "suggested_questions",
                "suggested_questions_text",
                "_",
                "Use up to 4 questions of at most 120 characters.",
            )
        for index, question in enumerate(questions):
            if len(question) > 120:
                self._row_error(
                    "suggested_questions",
                    "suggested_questions_text",
                    str(index),
                    f"Use at most 120 characters (this one has {len(question)}).",
                    f"Question {index + 1}",
                )

    def _clean_hours(self, data: dict[str, Any]) -> None:
        try:
            data["business_hours"] = business_hours_validate(
                json.loads(data.get("business_hours_json") or "{}")
            )
        except json.JSONDecodeError:
            self._row_error("business_hours", "business_hours_json", "_", "Not valid JSON.")
        except ValidationFailed as exc:
            for key, problems in (exc.errors or {}).items():
                day = key.partition(".")[2]
                for problem in problems:
                    message = problem["message"]
                    if day in DAY_NAMES:
                        shown = message.removeprefix(f"{DAY_NAMES[day]}: ")
                        self.row_errors["business_hours"].setdefault(day, []).append(
                            {"code": problem["code"], "message": shown[:1].upper() + shown[1:]}
                        )
                        self.add_error("business_hours_json", message)
                    else:
                        self._row_error("business_hours", "business_hours_json", "_", message)

    def draft(self) -> WidgetDraft:
        """The validated settings (call after ``is_valid()``)."""
        data = self.cleaned_data
        return WidgetDraft(
            **{name: data[name] for name in PLAIN_FIELDS},
            suggested_questions=data["suggested_questions"],
            business_hours=data["business_hours"],
            allowed_origins=data["allowed_origins"],
            prechat_enabled=data["prechat_enabled"],
            prechat_fields=data["prechat_fields"],
            consent_text=data["consent_text"],
            consent_url=data["consent_url"],
            avatar=data.get("avatar") or None,
            launcher_image=data.get("launcher_image") or None,
            remove_images=bool(data.get("remove_images")),
        )
