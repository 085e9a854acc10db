"""Single sign-on in a real browser: the owner sets up the workspace's provider on the
settings page; a member signs in from "Sign in with SSO" through the fake OpenID Connect
provider (a real server issuing signed ID tokens) and lands on the dashboard; with "require
SSO" on, a password session is stopped with the way forward. Screenshots of the pages at
390 and 1,280 px go to build/screenshots/ (SCREENSHOTS_DIR) for review."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from saas.crypto import secret_encrypt
from sso.models import IdentityProvider
from tests.browser.conftest import axe_serious_violations, horizontal_overflow, signed_in
from tests.fakes.oidc_provider import FakeOIDCProvider
from tests.tenants.factories import MembershipFactory, TenantFactory, UserFactory

SCREENSHOTS = Path(os.environ.get("SCREENSHOTS_DIR") or Path(__file__).parents[2] / "build" / "screenshots")


@pytest.fixture
def idp(settings):
    with FakeOIDCProvider(client_id="browser-client", client_secret="browser-secret-123") as server:
        settings.SSO_PRIVATE_ALLOWLIST = [server.address]
        yield server


@pytest.fixture
def workspace(live_db):
    owner = UserFactory(email="sso-owner@example.com", password="owner-password-1")
    tenant = TenantFactory(slug="sso-browser", name="SSO Browser Co", owner=owner)
    tenant.plan = "business"
    tenant.save(update_fields=["plan"])
    return tenant, owner


def _shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in (390, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        assert horizontal_overflow(page) == "", f"{name} at {width}px"
        page.screenshot(path=str(SCREENSHOTS / f"sso-{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_the_owner_sets_up_sso_and_a_member_signs_in_through_it(page, site, live_port, workspace, idp):
    tenant, owner = workspace
    host = f"{tenant.slug}.saas.test"
    signed_in(page, owner, host)
    page.goto(f"http://{host}:{live_port}/dashboard/settings/sso/")
    page.get_by_label("Issuer URL").fill(idp.issuer)
    page.get_by_label("Client ID").fill(idp.client_id)
    page.get_by_label("Client secret").fill(idp.client_secret)
    page.get_by_label("Email domains that may join").fill("example.com")
    page.get_by_label("Require single sign-on for members").check()
    page.get_by_role("button", name="Set up single sign-on").click()
    page.wait_for_selector("text=Single sign-on settings saved.")
    assert IdentityProvider.objects.get(tenant=tenant).require_sso
    assert page.get_by_label("Client secret").input_value() == ""  # never shown back
    assert axe_serious_violations(page) == []
    _shoot(page, "configuration")

    # A member, in another browser, signed in with a password on the public host.
    member = MembershipFactory(tenant=tenant, role="agent", user=UserFactory(email="member@example.com")).user
    other = page.context.browser.new_context(viewport={"width": 1280, "height": 900})
    browser_page = other.new_page()
    signed_in(browser_page, member, "saas.test")
    browser_page.goto(f"{site}/workspaces/{tenant.slug}/open")
    assert browser_page.get_by_role("heading", name="SSO Browser Co requires single sign-on").is_visible()
    _shoot(browser_page, "required")

    browser_page.get_by_role("button", name="Sign in with SSO").click()
    browser_page.wait_for_url(re.compile(rf"^http://{re.escape(host)}:\d+/dashboard/$"))
    assert browser_page.get_by_role("heading", name="SSO Browser Co").is_visible()
    assert idp.token_requests and idp.token_requests[-1]["code_verifier"]
    other.close()


def test_sign_in_with_sso_from_the_login_page(page, site, live_port, workspace, idp):
    tenant, _ = workspace
    IdentityProvider.objects.create(
        tenant=tenant,
        issuer=idp.issuer,
        client_id=idp.client_id,
        client_secret_encrypted=secret_encrypt(idp.client_secret),
        allowed_domains=["example.com"],
    )
    idp.user = {"sub": "jit-1", "email": "first.timer@example.com", "email_verified": True}
    page.goto(f"{site}/accounts/login/")
    _shoot(page, "login")
    page.get_by_role("link", name="Sign in with SSO").click()
    page.get_by_label("Work email or workspace address").fill("first.timer@example.com")
    _shoot(page, "start")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(rf"^http://{tenant.slug}\.saas\.test:\d+/dashboard/$"))
    assert page.js_errors == []


def test_the_login_and_signup_pages_with_google_and_microsoft(page, site, settings):
    settings.SOCIALACCOUNT_PROVIDERS = {
        "google": {"APP": {"client_id": "g-id", "secret": "g-secret"}},
        "microsoft": {"APP": {"client_id": "m-id", "secret": "m-secret"}},
    }
    page.goto(f"{site}/accounts/login/")
    for name in ("Sign in with Google", "Sign in with Microsoft", "Sign in with SSO"):
        assert page.get_by_role(page_role(name), name=name).is_visible()
    assert axe_serious_violations(page) == []
    _shoot(page, "login-providers")
    page.goto(f"{site}/accounts/signup/")
    assert page.get_by_role("button", name="Sign up with Google").is_visible()
    _shoot(page, "signup-providers")
    assert page.js_errors == []


def page_role(name: str) -> str:
    return "link" if name.endswith("SSO") else "button"
