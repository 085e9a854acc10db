"""The platform admin in a real browser: unfold's theme runs under the admin's policy with
no violation, the tenant list fits 1,280 px (long values are cut, the table scrolls inside
its box, never the page), and axe finds no serious or critical violation on the index,
the tenant list and a tenant's page. Screenshots at 1,280 and 360 px go to
``$SCREENSHOTS_DIR`` (default: shots-admin in the temporary directory), for review."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from tests.browser.conftest import axe_serious_violations, signed_in
from tests.browser.test_csp_browser import _violations, _watch
from tests.tenants.factories import StaffUserFactory, TenantFactory, UserFactory

SHOTS = Path(os.environ.get("SCREENSHOTS_DIR") or Path(tempfile.gettempdir()) / "shots-admin")
# What sticks out past the viewport (named in the failure message of an overflow check).
WIDER_THAN_THE_SCREEN = """[...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > innerWidth + 1).slice(0, 5)
  .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""
LONG_NAME = "Northwind Traders International Customer Support Knowledge Workspace"


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_admin_fits_1280_reads_well_and_obeys_the_policy(page, site):
    staff = StaffUserFactory(email="admin-ui-staff@example.com", is_superuser=True)
    owner = UserFactory(email="a-very-long-owner-address-for-the-admin-table@example.com")
    tenant = TenantFactory(slug="northwind-traders-international-support", name=LONG_NAME, owner=owner)
    TenantFactory(slug="admin-ui-second", name="Second Workspace", owner=UserFactory())
    console = _watch(page)
    signed_in(page, staff, "saas.test")

    pages = {
        "index": f"{site}/admin/",
        "tenants": f"{site}/admin/tenants/tenant/",
        "tenant": f"{site}/admin/tenants/tenant/{tenant.pk}/change/",
    }
    for width in (1280, 360):
        page.set_viewport_size({"width": width, "height": 900})
        for name, url in pages.items():
            page.goto(url)
            page.wait_for_load_state("networkidle")
            _shot(page, f"admin-{name}-{width}")
            overflow = page.evaluate("document.documentElement.scrollWidth")
            assert overflow <= width, f"{name}: the page is {overflow} px wide at {width}"
            if width == 1280:
                assert axe_serious_violations(page) == [], name
            if name == "tenants" and width == 1280:
                # every column shows without scrolling the table either
                box = page.evaluate(
                    "(() => { const t = document.querySelector('#result_list');"
                    " return [t.scrollWidth, t.parentElement.clientWidth]; })()"
                )
                assert box[0] <= box[1], f"the tenant table is {box[0]} px in a {box[1]} px box"

    # Alpine runs (no 'unsafe-eval' refusal): selecting a row shows the actions bar, and
    # the lifecycle action's confirmation page renders in unfold's layout.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(pages["tenants"])
    page.get_by_role("link", name=LONG_NAME).wait_for()
    page.locator(f"input.action-select[value='{tenant.pk}']").check()
    page.locator("select[name=action]").select_option("suspend_tenants")
    page.locator("button[name=index], button[type=submit][title='Run the selected action']").first.click()
    page.get_by_label("Reason (kept in the audit log)").wait_for()
    _shot(page, "admin-confirm-suspend-1280")
    assert axe_serious_violations(page) == []
    assert _violations(page) == []
    assert console == []
    assert page.js_errors == []


def test_support_access_from_the_admin_to_the_owners_page(page, site, live_port):
    """A staff member opens a workspace read-only from its admin page (the form, then the
    hand-off), reads its dashboard, cannot post; its owner sees the access and ends it."""
    from tenants.models import SupportAccess

    staff = StaffUserFactory(email="support-staff@example.com", is_superuser=True)
    owner = UserFactory(email="support-owner@example.com")
    tenant = TenantFactory(slug="support-browser", name="Support Browser", owner=owner)
    console = _watch(page)
    signed_in(page, staff, "saas.test")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{site}/admin/tenants/tenant/{tenant.pk}/change/")
    page.get_by_role("link", name="Open dashboard read-only (support)").click()
    page.get_by_label("Why you need to look").wait_for()
    _shot(page, "admin-support-form-1280")
    assert axe_serious_violations(page) == []
    page.get_by_label("Why you need to look").fill("Ticket 12: the bot answers in the wrong language")
    page.get_by_role("button", name="Open the dashboard read-only").click()
    page.wait_for_url(f"http://support-browser.saas.test:{live_port}/dashboard/")
    _shot(page, "support-dashboard-1280")
    assert SupportAccess.objects.filter(tenant=tenant, ended_at__isnull=True).count() == 1
    assert _violations(page) == [] and console == []

    owner_page = page.context.browser.new_context(viewport={"width": 360, "height": 800}).new_page()
    signed_in(owner_page, owner, "support-browser.saas.test")
    for width in (360, 1280):
        owner_page.set_viewport_size({"width": width, "height": 900})
        owner_page.goto(f"http://support-browser.saas.test:{live_port}/dashboard/support-access/")
        owner_page.get_by_text("Ticket 12: the bot answers in the wrong language").wait_for()
        _shot(owner_page, f"support-accesses-owner-{width}")
        wide = owner_page.evaluate(WIDER_THAN_THE_SCREEN)
        assert owner_page.evaluate("document.documentElement.scrollWidth") <= width, wide
        assert axe_serious_violations(owner_page) == []
    owner_page.get_by_role("button", name="End now").click()
    owner_page.get_by_text("ended: their session is closed").wait_for()
    assert SupportAccess.objects.get(tenant=tenant).ended_at is not None
    owner_page.context.close()
