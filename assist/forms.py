"""Input of the assist pages: the workspace's translation switch and a member's language."""

from __future__ import annotations

from django import forms

from .languages import CHOICES


class TranslationSettingsForm(forms.Form):
    translation_enabled = forms.BooleanField(
        label="Translate between visitors and agents",
        required=False,
        help_text="Visitors' messages are shown to each agent in their language (the original one click "
        "away); agents' replies are sent in the visitor's language. Each translation counts as an AI answer.",
    )


class MemberLanguageForm(forms.Form):
    language = forms.ChoiceField(
        label="I read and write in",
        required=False,
        choices=[("", "My browser's language"), *CHOICES],
    )


class RewriteForm(forms.Form):
    text = forms.CharField(required=False)
    style = forms.CharField(required=False)
