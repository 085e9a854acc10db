"""Forms of single sign-on: the workspace's provider settings, and the address someone
signs in with."""

from __future__ import annotations

import re

from django import forms

from .models import IdentityProvider


class IdentityProviderForm(forms.Form):
    issuer = forms.URLField(
        label="Issuer URL",
        max_length=500,
        assume_scheme="https",
        help_text="The provider's issuer, e.g. https://login.example.com/realms/acme. We read "
        "its /.well-known/openid-configuration when you save.",
        widget=forms.URLInput(attrs={"placeholder": "https://login.example.com", "spellcheck": "false"}),
    )
    client_id = forms.CharField(
        label="Client ID", max_length=255, widget=forms.TextInput(attrs={"spellcheck": "false"})
    )
    client_secret = forms.CharField(
        label="Client secret",
        required=False,
        max_length=2000,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}, render_value=False),
    )
    allowed_domains = forms.CharField(
        label="Email domains that may join",
        required=False,
        max_length=2000,
        help_text="People whose verified address is in one of these domains become members "
        "(role Agent) the first time they sign in. Leave empty to let in invited members only. "
        "One domain per line or separated by commas.",
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "example.com", "spellcheck": "false"}),
    )
    enabled = forms.BooleanField(label="Sign-in through this provider is on", required=False, initial=True)
    require_sso = forms.BooleanField(
        label="Require single sign-on for members",
        required=False,
        help_text="Admins and agents can then enter this workspace only through the provider; "
        "turning it on signs them out here (you too, unless you are an owner). Owners keep their "
        "password as the way back in.",
    )

    def __init__(self, *args: object, provider: IdentityProvider | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        secret = self.fields["client_secret"]
        if provider is None:
            secret.help_text = "Stored encrypted; never shown again."
        else:
            secret.help_text = "A secret is stored (encrypted, never shown). Leave empty to keep it."

    @classmethod
    def initial_of(cls, provider: IdentityProvider | None) -> dict[str, object]:
        if provider is None:
            return {"enabled": True}
        return {
            "issuer": provider.issuer,
            "client_id": provider.client_id,
            "allowed_domains": "\n".join(provider.allowed_domains),
            "enabled": provider.enabled,
            "require_sso": provider.require_sso,
        }

    def clean_allowed_domains(self) -> list[str]:
        return [d for d in re.split(r"[\s,;]+", self.cleaned_data["allowed_domains"]) if d]


class SsoStartForm(forms.Form):
    address = forms.CharField(
        label="Work email or workspace address",
        max_length=254,
        widget=forms.TextInput(
            attrs={
                "placeholder": "you@company.com or acme",
                "autocomplete": "username",
                "autocapitalize": "none",
                "spellcheck": "false",
            }
        ),
    )
