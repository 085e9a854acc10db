"""How django-allauth behaves on the public host."""

from allauth.account.adapter import DefaultAccountAdapter
from django.urls import reverse

from saas.ratelimit import client_address


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
