"""The retention settings form: each kind kept forever or a number of days, offered as the
common periods (the plan's bound among them); the service enforces the plan's bound."""

from __future__ import annotations

from typing import Any

from django import forms

from .selectors import FIELDS

FOREVER = "forever"
PRESETS = (7, 14, 30, 60, 90, 180, 365, 730, 1095, 1825, 3650)
HELP = {
    "conversations_days": "Counted from the last message: a conversation goes with its messages and files.",
    "attachments_days": "Files visitors sent; the message stays and says the file was removed.",
    "contacts_days": "Counted from the visitor's last visit, once none of their conversations is left.",
}
LABELS = {
    "conversations_days": "Conversations and their messages",
    "attachments_days": "Attachments",
    "contacts_days": "Contacts",
}


def period_words(days: int | None) -> str:
    if days is None:
        return "Forever"
    if days % 365 == 0:
        years = days // 365
        return f"{years} year{'' if years == 1 else 's'}"
    return f"{days:,} day{'' if days == 1 else 's'}"


def _choices(bound: int | None, current: list[int | None]) -> list[tuple[str, str]]:
    days = sorted({*PRESETS, *(d for d in [bound, *current] if d is not None)})
    choices = [(str(d), period_words(d)) for d in days if bound is None or d <= bound]
    forever = "Forever" if bound is None else "Forever (needs a plan without a limit)"
    more = [
        (str(d), f"{period_words(d)} (needs a bigger plan)") for d in days if bound is not None and d > bound
    ]
    return [(FOREVER, forever), *choices, *more]


class RetentionForm(forms.Form):
    def __init__(self, *args: Any, bound: int | None, current: dict[str, int | None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = _choices(bound, list(current.values()))
        for field in FIELDS:
            self.fields[field] = forms.ChoiceField(
                label=LABELS[field], choices=choices, help_text=HELP[field]
            )
            self.initial.setdefault(field, FOREVER if current[field] is None else str(current[field]))

    def days(self) -> dict[str, int | None]:
        """The chosen days per field (None: forever), once the form is valid."""
        return {
            field: None if self.cleaned_data[field] == FOREVER else int(self.cleaned_data[field])
            for field in FIELDS
        }
