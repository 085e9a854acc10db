"""Forms of the tenancy pages (team, API keys, workspace settings): they shape and check what
people type; the services decide and write. A service's refusal is put back on the form
(:func:`problem_onto`), so a refused form shows its errors next to the fields and keeps
what was typed."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from saas.errors import ProblemError

from .models import ApiKey, Membership
from .services.settings import LANGUAGES, LOGO_MAX_BYTES, time_zone_choices

ROLE_HELP = (
    "Agents answer conversations. Admins also manage the team, billing, settings and API keys. "
    "Owners can do everything, including handing over ownership."
)


def problem_onto(form: forms.Form, error: ProblemError) -> None:
    """Put a service's refusal on ``form``: each field error on its field (when the form has
    that field), anything else as a form-wide error (shown in an error alert)."""
    placed = False
    for field, errors in (error.errors or {}).items():
        for item in errors:
            form.add_error(field if field in form.fields else None, item["message"])
            placed = True
    if not placed:
        form.add_error(None, error.detail)


class InvitationForm(forms.Form):
    email = forms.EmailField(
        label="Email address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "off", "placeholder": "name@company.com"}),
    )
    role = forms.ChoiceField(
        label="Role",
        choices=Membership.Role.choices,
        initial=Membership.Role.AGENT,
        widget=forms.Select(attrs={"aria-describedby": "role-help"}),  # ROLE_HELP, under the form
    )

    def __init__(self, *args: Any, actor_role: str = Membership.Role.OWNER, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if actor_role != Membership.Role.OWNER:  # only owners grant the owner role
            role = cast(forms.ChoiceField, self.fields["role"])
            role.choices = [c for c in Membership.Role.choices if c[0] != Membership.Role.OWNER]


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=80,
        help_text="What uses the key, so you know which one to revoke (for example “CRM sync”).",
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "CRM sync"}),
    )
    role = forms.ChoiceField(
        label="Role",
        choices=ApiKey.Role.choices,
        initial=ApiKey.Role.ADMIN,
        help_text="What the key may do, as a member with that role would. Keys never create or revoke keys.",
    )


class WorkspaceSettingsForm(forms.Form):
    name = forms.CharField(
        label="Workspace name",
        max_length=120,
        help_text="Shown in the dashboard, in invitations and in emails to your team.",
    )
    time_zone = forms.ChoiceField(
        label="Time zone",
        help_text="Analytics counts whole days of this time zone.",
    )
    language = forms.ChoiceField(
        label="Default language",
        choices=LANGUAGES,
        help_text="New widgets start in this language; each widget can change it.",
    )
    logo = forms.FileField(
        label="Logo",
        required=False,
        help_text=f"A PNG, JPEG or WebP image of at most {LOGO_MAX_BYTES // 1024} KB; shown square, "
        "128 px at most.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
    )
    remove_logo = forms.BooleanField(label="Remove the logo", required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["time_zone"]).choices = time_zone_choices()
