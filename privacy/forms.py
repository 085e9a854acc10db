"""The erasure's confirmation: the contact's email typed again, or the word "erase" for a
contact without one."""

from __future__ import annotations

from typing import Any

from django import forms


class EraseConfirmForm(forms.Form):
    confirm = forms.CharField(
        max_length=254,
        label="Type to confirm",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def __init__(self, *args: Any, expected: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.expected = expected
        self.fields["confirm"].help_text = f"Type {expected} to confirm."

    def clean_confirm(self) -> str:
        typed = str(self.cleaned_data["confirm"]).strip()
        if typed.lower() != self.expected.lower():
            raise forms.ValidationError(
                f"Type {self.expected} exactly to confirm.", code="erasure_not_confirmed"
            )
        return typed


def erase_word(email: str) -> str:
    """What the member types to confirm: the contact's email, or "erase"."""
    return email or "erase"
