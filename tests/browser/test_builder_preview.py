"""The builder's live preview runs the real widget with unsaved settings."""

from __future__ import annotations

from django_tenants.utils import tenant_context

from tests.browser.conftest import signed_in
from tests.tenants.factories import TenantFactory, UserFactory
from widget_builder.models import Widget


def test_preview_follows_unsaved_settings(page, site, live_port):
    owner = UserFactory(email="builder@example.com")
    tenant = TenantFactory(slug="builder-co", name="Builder Co", owner=owner)
    with tenant_context(tenant):
        widget = Widget.objects.get()
    signed_in(page, owner, "builder-co.saas.test")
    page.goto(f"http://builder-co.saas.test:{live_port}/dashboard/widgets/{widget.pk}/")

    page.get_by_label("Bot name *").fill("Previewy")
    page.get_by_label("Prechat fields (JSON)").fill(
        '[{"kind": "email", "label": "Work email", "required": true}]'
    )
    page.get_by_role("button", name="Prechat form").click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    assert dialog.get_by_role("heading", name="Previewy").is_visible()
    assert dialog.get_by_label("Work email *").is_visible()

    page.get_by_role("button", name="Launcher", exact=True).click()
    assert not dialog.is_visible()
    with tenant_context(tenant):
        assert Widget.objects.get().bot_name == "Assistant"  # nothing was saved
    assert page.js_errors == []
