"""How django-allauth behaves on the public host."""

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialApp
from django.conf import settings
from django.http import Http404
from django.urls import reverse

from saas.ratelimit import client_address
from ui.emails import BRAND


class AccountAdapter(DefaultAccountAdapter):
    def get_login_redirect_url(self, request) -> str:
        # After sign-in (or confirming the email address) people go to their workspace;
        # with one workspace the picker forwards them at once.
        return reverse("public_site:workspaces")

    def get_signup_redirect_url(self, request) -> str:
        return reverse("public_site:workspaces")

    def get_email_verification_redirect_url(self, email_address) -> str:
        return reverse("public_site:workspaces")

    def get_client_ip(self, request) -> str:
        # allauth's login, signup and reset limits count per client address, read the same
        # way as every other limit (X-Forwarded-For only from TRUSTED_PROXIES).
        return client_address(request)

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        # allauth's emails (templates/account/email/) are drawn on the platform's email
        # layout, which names the brand and the site like every other email.
        super().send_mail(
            template_prefix, email, {"brand": BRAND, "base_domain": settings.BASE_DOMAIN, **context}
        )


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """Google and Microsoft sign-in, each answering only while the platform has its client
    id and secret (SOCIALACCOUNT_PROVIDERS, from the environment): otherwise its routes
    answer 404 and no button shows (the template lists only providers with an app)."""

    def get_app(self, request, provider, client_id=None):
        try:
            return super().get_app(request, provider, client_id=client_id)
        except SocialApp.DoesNotExist as exc:
            raise Http404 from exc
