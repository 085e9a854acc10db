"""The audit log page (Settings → Audit log) in a real browser, with events recorded by the
real services: at 390 and 1,280 px nothing is wider than the screen and axe-core finds no
serious violation; a filter narrows the rows; Export CSV downloads the filtered list.
Screenshots go to $SCREENSHOT_DIR (default /tmp/shots-audit)."""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path

from django_tenants.utils import tenant_context

from audit.services import audit_record
from tenants.models import Tenant
from tenants.services.api_keys import api_key_create
from tenants.services.settings import tenant_settings_update
from tenants.services.team import invitation_create
from tests.browser.conftest import axe_serious_violations, horizontal_overflow, signed_in
from tests.tenants.factories import TenantFactory, UserFactory
from widget_builder.models import Widget
from widget_builder.services import widget_identity_secret_rotate

SHOTS = Path(os.environ.get("SCREENSHOT_DIR") or Path(tempfile.gettempdir()) / "shots-audit")
PATH = "/dashboard/settings/audit-log/"


def _workspace() -> tuple[Tenant, object]:
    owner = UserFactory(email="owner@ledger.example.com")
    tenant = TenantFactory(slug="ledger", name="Ledger Support", owner=owner)
    Tenant.objects.filter(pk=tenant.pk).update(plan="business")
    tenant.refresh_from_db()
    by = tenant.memberships.get(user=owner)
    tenant_settings_update(
        tenant=tenant, by=by, name="Ledger Customer Care", time_zone="Europe/Paris", language="fr"
    )
    invitation_create(
        tenant=tenant,
        email="maria.garcia-lopez.support@example.com",
        role="agent",
        by=by,
        accept_url="https://saas.test/invitations/{token}/",
    )
    api_key_create(tenant=tenant, name="CRM sync (production)", role="admin", by=by)
    with tenant_context(tenant):
        widget = Widget.objects.get()
        widget_identity_secret_rotate(widget=widget)
        audit_record(
            action="widget.updated",
            actor=owner,
            target=widget,
            metadata={
                "changed": ["greeting", "primary_color", "suggested_questions"],
                "greeting": {
                    "from": "Hi! How can we help?",
                    "to": "Bonjour ! Comment pouvons-nous vous aider ?",
                },
                "primary_color": {"from": "#2563eb", "to": "#0f766e"},
                "published": True,
            },
        )
    return tenant, owner


def _check(page, name: str, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    page.wait_for_load_state("load")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    assert horizontal_overflow(page) == "", f"{name} at {width}"
    assert axe_serious_violations(page) == [], name


def test_the_audit_log_page_in_the_browser(page, site, live_port):
    _, owner = _workspace()
    host = "ledger.saas.test"
    signed_in(page, owner, host)
    page.goto(f"http://{host}:{live_port}{PATH}")
    rows = page.locator("tbody tr")
    assert rows.count() >= 5
    assert "Changed the workspace settings" in page.content()
    for width in (1280, 390):
        _check(page, "audit-log", width)

    page.set_viewport_size({"width": 1280, "height": 900})
    page.locator("summary", has_text="Filters").click()
    page.locator("#id_category").select_option("team")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**category=team**")
    assert page.locator("tbody tr").count() == 1
    assert "maria.garcia-lopez.support@example.com" in page.locator("tbody").inner_text()
    _check(page, "audit-log-filtered", 1280)
    _check(page, "audit-log-filtered", 390)

    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    assert [line[3] for line in lines[1:]] == ["member.invited"]

    page.emulate_media(color_scheme="dark")
    page.goto(f"http://{host}:{live_port}{PATH}")
    _check(page, "audit-log-dark", 390)
    assert page.js_errors == []
