"""The platform's usage statistics in the admin, in a real browser: the last 30 days with
their totals and chart fit 1,280 and 390 px, obey the admin's policy, and axe finds no
serious violation. Screenshots go to ``$SCREENSHOTS_DIR`` (default: shots-admin)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from tenants.models import PlatformDailyUsage
from tests.browser.conftest import axe_serious_violations, signed_in
from tests.browser.test_admin_browser import WIDER_THAN_THE_SCREEN, _shot
from tests.browser.test_csp_browser import _violations, _watch
from tests.tenants.factories import StaffUserFactory


def test_usage_statistics_read_well_at_both_widths(page, site):
    staff = StaffUserFactory(email="usage-staff@example.com", is_superuser=True)
    today = timezone.now().date()
    PlatformDailyUsage.objects.bulk_create(
        PlatformDailyUsage(
            day=today - timedelta(days=n),
            tenants=1200 - n,
            active_tenants=400 + (n * 37) % 90,
            messages=18_000 + (n * 7919) % 9000,
            ai_answers=7_000 + (n * 3571) % 4000,
        )
        for n in range(1, 95)
    )
    console = _watch(page)
    signed_in(page, staff, "saas.test")
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{site}/admin/tenants/platformdailyusage/")
        page.get_by_text("Messages per day").wait_for()
        _shot(page, f"admin-platform-usage-{width}")
        wide = page.evaluate(WIDER_THAN_THE_SCREEN)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, wide
        assert axe_serious_violations(page) == []
    assert page.locator("[aria-label='Messages per day'] > div").count() == 30
    page.goto(f"{site}/admin/tenants/platformdailyusage/?period=90")
    page.get_by_text("Messages per day").wait_for()
    assert page.locator("[aria-label='Messages per day'] > div").count() == 90
    assert _violations(page) == [] and console == []
    assert page.js_errors == []
