"""Signup end to end in a real browser: form, live address check, email confirmation,
hand-off to the new workspace's host, onboarding checklist."""

from __future__ import annotations

import re

from django.core import mail

from tenants.models import Tenant


def test_signup_through_the_real_forms_lands_in_the_workspace(page, site):
    page.goto(f"{site}/accounts/signup/")
    page.get_by_label("Workspace name").fill("Browser Bakery")
    # the address is suggested from the name and checked live
    assert page.get_by_label("Workspace address").input_value() == "browser-bakery"
    page.wait_for_selector("#slug-status:has-text('is available')")

    page.get_by_label("Email").fill("baker@example.com")
    page.get_by_label("Password").fill("flour-and-water-42")
    page.get_by_role("button", name="Create workspace").click()
    page.wait_for_url(re.compile(r"/accounts/confirm-email/$"))
    assert Tenant.objects.get(slug="browser-bakery").status == "active"

    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+)", mail.outbox[-1].body).group(1)
    page.goto(site + link)
    page.get_by_role("button", name="Confirm").click()

    page.wait_for_url(re.compile(r"^http://browser-bakery\.saas\.test:\d+/dashboard/$"))
    assert page.get_by_role("heading", name="Browser Bakery").is_visible()
    assert page.get_by_role("heading", name="Get your bot live").is_visible()
    cookies = page.context.cookies()
    assert any(c["name"] == "sessionid" and c["domain"] == "browser-bakery.saas.test" for c in cookies)
    assert page.js_errors == []


def test_live_check_reports_a_taken_or_reserved_address(page, site):
    page.goto(f"{site}/accounts/signup/")
    address = page.get_by_label("Workspace address")
    address.fill("admin")
    page.wait_for_selector("#slug-status:has-text('reserved')")
    address.fill("ok-name")
    page.wait_for_selector("#slug-status:has-text('is available')")
    assert page.js_errors == []
