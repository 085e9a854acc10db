"""Every page of the public site and of the sign-in flow, in Chromium at 360 and 1,280 px:
nothing wider than the screen, no serious or critical accessibility violation (axe-core),
no script error. A full-page screenshot of each is saved for review under
$SCREENSHOTS_DIR (default /tmp/shots-public/), a folder CI does not keep."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from tenants.models import Invitation
from tenants.services.team import invitation_token
from tests.browser.conftest import axe_serious_violations, signed_in
from tests.tenants.factories import EmailAddressFactory, InvitationFactory, MembershipFactory, UserFactory

SHOTS = Path(os.environ.get("SCREENSHOTS_DIR") or Path(tempfile.gettempdir()) / "shots-public")
WIDTHS = (360, 1280)

ANONYMOUS = {
    "home": "/",
    "pricing": "/pricing/",
    "pricing-yearly": "/pricing/?billing=yearly",
    "getting-started": "/docs/getting-started/",
    "errors-reference": "/docs/errors/",
    "login": "/accounts/login/",
    "signup": "/accounts/signup/",
    "password-reset": "/accounts/password/reset/",
    "password-reset-done": "/accounts/password/reset/done/",
    "password-reset-bad-key": "/accounts/password/reset/key/1-bad-key/",
    "password-reset-key-done": "/accounts/password/reset/key/done/",
    "account-inactive": "/accounts/inactive/",
    "verification-sent": "/accounts/confirm-email/",
    "confirm-email-bad-key": "/accounts/confirm-email/not-a-key/",
    "not-found": "/no-such-page/",
}
SIGNED_IN = {
    "workspaces": "/workspaces/",
    "profile": "/account/",
    "emails": "/accounts/email/",
    "password-change": "/accounts/password/change/",
    "logout": "/accounts/logout/",
    "reauthenticate": "/accounts/reauthenticate/",
}


def _check(page, name: str, width: int) -> None:
    """The page as loaded: no overflow, no serious/critical axe violation; screenshot."""
    page.wait_for_load_state("load")
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{name} at {width}px is {scroll_width}px wide"
    bad = axe_serious_violations(page)
    assert bad == [], f"{name} at {width}px: {bad}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)


def _visit(page, site: str, pages: dict[str, str]) -> None:
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        for name, path in pages.items():
            page.goto(site + path)
            _check(page, name, width)
    assert page.js_errors == []


def test_public_and_sign_in_pages_fit_phones_and_pass_axe(page, site):
    _visit(page, site, ANONYMOUS)


def test_dark_mode_pages_pass_axe(page, site):
    """Dark mode follows the system setting: its colours must keep their contrast too."""
    page.emulate_media(color_scheme="dark")
    _visit(
        page, site, {f"dark-{name}": ANONYMOUS[name] for name in ("home", "pricing", "login", "not-found")}
    )


def test_refused_forms_show_errors_per_field_and_keep_what_was_typed(page, site):
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{site}/accounts/signup/")
        page.get_by_label("Workspace name").fill("Typed Name")
        page.get_by_label("Workspace address").fill("admin")
        page.get_by_label("Email").fill("not-an-email")
        page.get_by_role("button", name="Create workspace").click()
        page.wait_for_selector(".field.has-error")
        # what was typed is still there, and each error sits under its own field
        assert page.get_by_label("Workspace name").input_value() == "Typed Name"
        assert page.get_by_label("Email").input_value() == "not-an-email"
        assert page.locator("#id_slug_errors").is_visible()
        assert page.locator("#id_email_errors").is_visible()
        assert page.get_by_label("Email").get_attribute("aria-invalid") == "true"
        _check(page, "signup-errors", width)

        page.goto(f"{site}/accounts/login/")
        page.get_by_label("Email").fill("nobody@example.com")
        page.get_by_label("Password").fill("wrong-password-1")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_selector(".alert-error")
        assert page.get_by_label("Email").input_value() == "nobody@example.com"
        _check(page, "login-errors", width)
    assert page.js_errors == []


def test_signed_in_pages_fit_phones_and_pass_axe(page, site, seeded):
    user = UserFactory(email="browsing-member@example.com")
    EmailAddressFactory(user=user, email=user.email, primary=True, verified=True)
    EmailAddressFactory(user=user, email="second-address@example.com", primary=False, verified=False)
    MembershipFactory(tenant=seeded["a"].tenant, user=user, role="admin")
    MembershipFactory(tenant=seeded["b"].tenant, user=user, role="agent")
    signed_in(page, user, "saas.test")
    _visit(page, site, SIGNED_IN)

    # the account page lists the workspaces with a way in, and the account's links
    page.goto(f"{site}/account/")
    assert page.get_by_role("link", name=f"Open {seeded['a'].tenant.name}").is_visible()
    assert page.get_by_role("link", name="Change password").is_visible()
    assert page.get_by_role("link", name="Manage").is_visible()
    assert page.get_by_text("second-address@example.com").is_visible()


@pytest.mark.parametrize("state", ["new-account", "signed-in-as-someone-else"])
def test_invitation_pages_fit_phones_and_pass_axe(page, site, seeded, state):
    invitation = InvitationFactory(tenant=seeded["a"].tenant, email=f"{state}@example.com", role="agent")
    try:
        if state == "signed-in-as-someone-else":
            signed_in(page, UserFactory(email="someone-else@example.com"), "saas.test")
        _visit(page, site, {f"invitation-{state}": f"/invitations/{invitation_token(invitation)}/"})
    finally:
        Invitation.objects.filter(pk=invitation.pk).delete()
