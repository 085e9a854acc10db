"""Google and Microsoft sign-in (django-allauth's socialaccount): on only when the client id
and secret are set; buttons and routes otherwise absent; the provider redirect goes to the
right authorize URL; an existing account is joined only on a verified address; a new
account gets its workspace from the signup form."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import environ
import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.models import SocialAccount, SocialLogin
from django.test import Client, RequestFactory

from public_site.forms import WorkspaceSocialSignupForm
from saas.settings import auth as auth_settings
from tenants.models import Membership, Tenant, User
from tests.hosts import PUBLIC_HOST
from tests.tenants.factories import UserFactory

pytestmark = pytest.mark.django_db

GOOGLE = {
    "APP": {"client_id": "google-client-id", "secret": "google-secret"},
    "SCOPE": ["openid", "email", "profile"],
    "OAUTH_PKCE_ENABLED": True,
}
MICROSOFT = {
    "APP": {"client_id": "ms-client-id", "secret": "ms-secret", "settings": {"tenant": "organizations"}},
    "SCOPE": ["User.Read"],
}


@pytest.fixture
def public() -> Client:
    return Client(HTTP_HOST=PUBLIC_HOST)


@pytest.fixture
def providers_on(settings):
    settings.SOCIALACCOUNT_PROVIDERS = {"google": GOOGLE, "microsoft": MICROSOFT}


def test_the_settings_turn_each_provider_on_from_the_environment(monkeypatch):
    for name in ("GOOGLE", "MICROSOFT"):
        monkeypatch.delenv(f"{name}_OAUTH_CLIENT_ID", raising=False)
        monkeypatch.delenv(f"{name}_OAUTH_CLIENT_SECRET", raising=False)
    assert auth_settings._social_providers() == {}

    monkeypatch.setenv("GOOGLE_OAUTH_CLIENT_ID", "g-id")
    monkeypatch.setenv("GOOGLE_OAUTH_CLIENT_SECRET", "g-secret")
    monkeypatch.setenv("MICROSOFT_OAUTH_CLIENT_ID", "m-id")  # no secret: stays off
    providers = auth_settings._social_providers()
    assert set(providers) == {"google"}
    assert providers["google"]["APP"] == {"client_id": "g-id", "secret": "g-secret"}
    assert isinstance(auth_settings.env, environ.Env)


def test_unset_there_are_no_buttons_and_no_working_routes(public, settings):
    settings.SOCIALACCOUNT_PROVIDERS = {}
    for page in ("/accounts/login/", "/accounts/signup/"):
        body = public.get(page).content.decode()
        assert "with Google" not in body and "with Microsoft" not in body
    assert public.post("/accounts/google/login/").status_code == 404
    assert public.post("/accounts/microsoft/login/").status_code == 404
    assert public.get("/accounts/google/login/callback/?code=x&state=y").status_code == 404


def test_set_the_buttons_show_and_post_to_the_provider_routes(public, providers_on):
    login = public.get("/accounts/login/").content.decode()
    assert "Sign in with Google" in login and "Sign in with Microsoft" in login
    assert 'action="/accounts/google/login/?process=login"' in login
    assert "Sign in with SSO" in login
    signup = public.get("/accounts/signup/").content.decode()
    assert "Sign up with Google" in signup and "Sign up with Microsoft" in signup


def test_the_google_route_redirects_to_googles_authorize_url(public, providers_on):
    response = public.post("/accounts/google/login/")
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == "https://accounts.google.com/o/oauth2/v2/auth"
    query = parse_qs(target.query)
    assert query["client_id"] == ["google-client-id"]
    assert query["redirect_uri"] == [f"http://{PUBLIC_HOST}/accounts/google/login/callback/"]
    assert query["code_challenge_method"] == ["S256"] and query["state"]
    assert set(query["scope"][0].split()) == {"openid", "email", "profile"}


def test_the_microsoft_route_redirects_to_microsofts_authorize_url(public, providers_on):
    response = public.post("/accounts/microsoft/login/")
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert target.netloc == "login.microsoftonline.com"
    assert target.path == "/organizations/oauth2/v2.0/authorize"
    assert parse_qs(target.query)["client_id"] == ["ms-client-id"]


def _sociallogin(email: str, *, verified: bool, provider: str = "google") -> SocialLogin:
    request = RequestFactory().get("/", HTTP_HOST=PUBLIC_HOST)
    provider_object = get_adapter(request).get_provider(request, provider)
    account = SocialAccount(provider=provider, uid=f"uid-{email}", extra_data={"email": email})
    return SocialLogin(
        account=account,
        user=User(email=email),
        email_addresses=[EmailAddress(email=email, verified=verified, primary=True)],
        provider=provider_object,
    )


def test_an_existing_account_is_joined_only_on_a_verified_address(providers_on):
    user = UserFactory(email="known@example.com")
    adapter = get_adapter()
    assert adapter.authenticate_by_email(_sociallogin("known@example.com", verified=False)) is None
    assert adapter.authenticate_by_email(_sociallogin("known@example.com", verified=True)) == (
        user,
        "known@example.com",
    )


def test_social_signup_creates_the_workspace_like_the_signup_form(providers_on, seeded):
    login = _sociallogin("founder@social.example", verified=True)
    request = RequestFactory().post("/accounts/3rdparty/signup/", HTTP_HOST=PUBLIC_HOST)
    request.session = Client().session
    data = {"workspace_name": "Social Co", "slug": "social-co", "email": "founder@social.example"}
    form = WorkspaceSocialSignupForm(data, sociallogin=login)
    assert form.is_valid(), form.errors

    user = form.save(request)

    tenant = Tenant.objects.get(slug="social-co")
    assert tenant.name == "Social Co"
    assert Membership.objects.get(tenant=tenant, user=user).role == Membership.Role.OWNER
    assert SocialAccount.objects.filter(user=user, provider="google").exists()


def test_social_signup_refuses_a_taken_workspace_address(providers_on, tenant_a):
    login = _sociallogin("someone@social.example", verified=True)
    form = WorkspaceSocialSignupForm(
        {"workspace_name": "X", "slug": "tenant-a", "email": "someone@social.example"}, sociallogin=login
    )
    assert not form.is_valid() and "slug" in form.errors


def test_the_social_signup_page_asks_for_the_workspace(public, providers_on):
    # Without a pending provider sign-in the page sends people to sign in first.
    response = public.get("/accounts/3rdparty/signup/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
