"""The privacy pages in a real browser at 390 and 1,280 px: a contact's Data protection
card and erasure page, the Settings page's export and deletion, the emailed link's page,
and the banner of a workspace scheduled for deletion with its Undo (which works). Nothing
wider than the screen, no serious axe-core violation. Screenshots go to $SCREENSHOT_DIR
(default /tmp/shots-privacy)."""

from __future__ import annotations

import os
import tempfile
from datetime import timedelta
from pathlib import Path

from django.utils import timezone
from django_tenants.utils import tenant_context

from privacy.services.workspace import deletion_token
from tenants.models import Tenant
from tests.browser.conftest import axe_serious_violations, signed_in
from tests.browser.test_workspace_pages import WIDER_THAN_THE_SCREEN
from tests.chat.factories import ContactFactory, ConversationFactory, MessageFactory
from tests.tenants.factories import TenantFactory, UserFactory
from widget_builder.models import Widget

SHOTS = Path(os.environ.get("SCREENSHOT_DIR") or Path(tempfile.gettempdir()) / "shots-privacy")


def _check(page, name: str) -> None:
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_load_state("load")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, (
            f"{name} is {scroll} px wide at {width}: {page.evaluate(WIDER_THAN_THE_SCREEN)}"
        )
        assert axe_serious_violations(page) == [], name


def test_privacy_pages(page, site, live_port):
    owner = UserFactory(email="owner@privacy-pages.example.com")
    tenant = TenantFactory(slug="privacy-pages", name="Northwind Support", owner=owner)
    with tenant_context(tenant):
        contact = ContactFactory(
            widget=Widget.objects.get(),
            name="Ada Lovelace",
            email="ada.lovelace@example.com",
            consent_given_at=timezone.now(),
            consent_text="I agree to be contacted.",
        )
        MessageFactory(
            conversation=ConversationFactory(widget=contact.widget, contact=contact), text="Hello!"
        )
    host = "privacy-pages.saas.test"
    base = f"http://{host}:{live_port}"
    signed_in(page, owner, host)

    page.goto(f"{base}/dashboard/contacts/{contact.pk}/")
    page.locator("#privacy").wait_for()
    _check(page, "contact")
    page.get_by_role("link", name="Erase this contact…").click()
    page.locator("#id_confirm").wait_for()
    page.locator("#id_confirm").fill("someone else")
    page.get_by_role("button", name="Erase for good").click()
    page.locator(".alert-error").wait_for()
    _check(page, "contact-erase-refused")

    page.goto(f"{base}/dashboard/settings/")
    _check(page, "settings")
    page.goto(f"{base}/dashboard/settings/delete/confirm/?token={deletion_token(tenant=tenant, user=owner)}")
    _check(page, "deletion-confirm")
    page.get_by_role("button", name="Delete in 14 days").click()
    page.locator("#deletion-banner").wait_for()
    due = Tenant.objects.get(pk=tenant.pk).delete_after
    assert due is not None and due > timezone.now() + timedelta(days=13)
    _check(page, "settings-scheduled")
    page.goto(f"{base}/dashboard/settings/delete/confirm/?token=forged")
    _check(page, "deletion-link-refused")
    page.goto(f"{base}/dashboard/")
    page.locator("#deletion-banner").get_by_role("button", name="Undo").click()
    page.get_by_text("The deletion was undone").wait_for()
    assert Tenant.objects.get(pk=tenant.pk).delete_after is None
    assert page.locator("#deletion-banner").count() == 0
    assert page.js_errors == []
