"""The signup form: an account and its workspace in one step."""

from __future__ import annotations

from allauth.account.forms import SignupForm
from allauth.socialaccount.forms import SignupForm as SocialSignupForm
from django import forms
from django.conf import settings

from saas.errors import ProblemError
from tenants import services as tenant_services
from tenants.selectors import slug_availability
from tenants.slugs import SLUG_MAX_LENGTH


class WorkspaceFields(forms.Form):
    """The new workspace's name and address, asked by every way of signing up."""

    workspace_name = forms.CharField(
        label="Workspace name", max_length=120, widget=forms.TextInput(attrs={"autocomplete": "organization"})
    )
    slug = forms.CharField(
        label="Workspace address",
        max_length=SLUG_MAX_LENGTH,
        help_text=f"Lowercase letters, numbers and hyphens: “acme” opens at acme.{settings.BASE_DOMAIN}.",
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"}
        ),
    )

    field_order = ["workspace_name", "slug", "email", "password1"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["workspace_name"].widget.attrs["placeholder"] = "Acme Support"
        self.fields["slug"].widget.attrs["placeholder"] = "acme-support"

    def clean_slug(self) -> str:
        try:
            return slug_availability(self.cleaned_data["slug"])
        except ProblemError as error:
            message = error.errors["slug"][0]["message"] if error.errors else error.detail
            raise forms.ValidationError(message, code=error.code) from error

    def custom_signup(self, request, user) -> None:
        # Runs inside the signup view's transaction: a failure here rolls the user back too.
        self.tenant = tenant_services.tenant_provision(
            slug=self.cleaned_data["slug"], name=self.cleaned_data["workspace_name"], owner=user
        )


class WorkspaceSignupForm(WorkspaceFields, SignupForm):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        honeypot = self.fields.get(settings.ACCOUNT_SIGNUP_FORM_HONEYPOT_FIELD)
        if honeypot is not None:
            # allauth hides its honeypot with an inline style far off to the right, which
            # widens the page on phones; the template hides it in a clipped box instead.
            honeypot.label = "Leave this field empty"
            honeypot.widget.attrs.pop("style", None)
        self.fields["email"].widget.attrs["placeholder"] = "you@company.com"
        self.fields["email"].label = "Work email"
        self.fields["password1"].widget.attrs.pop("placeholder", None)
        self.fields["password1"].help_text = "At least 10 characters, not a common or all-numeric password."

    def clean_email(self) -> str:
        email = super().clean_email()
        if getattr(self, "account_already_exists", False):
            raise forms.ValidationError("A user is already registered with this email address.", code="taken")
        return email


class WorkspaceSocialSignupForm(WorkspaceFields, SocialSignupForm):
    """After Google or Microsoft, a new account names its workspace like the email signup;
    the address comes from the provider (verified by it, or by our confirmation email)."""

    field_order = ["workspace_name", "slug", "email"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].label = "Work email"
