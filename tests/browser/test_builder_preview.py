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

    # the real widget sits in the preview pane, not in the page's corner
    stage = page.locator("#preview-stage")
    stage.locator("[data-chat-widget]").wait_for(state="attached")
    page.get_by_label("Bot name *").fill("Previewy")
    fields = page.get_by_role("group", name="Fields")
    fields.get_by_role("button", name="Add a field").click()
    fields.get_by_label("Kind").select_option("email")
    fields.get_by_label("Label").fill("Work email")
    fields.get_by_label("Required").check()
    page.get_by_role("button", name="Prechat form").click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    assert page.get_by_role("button", name="Prechat form").get_attribute("aria-pressed") == "true"
    assert dialog.get_by_role("heading", name="Previewy").is_visible()
    assert dialog.get_by_label("Work email *").is_visible()
    box, pane = dialog.bounding_box(), stage.bounding_box()
    assert pane["x"] <= box["x"] and box["x"] + box["width"] <= pane["x"] + pane["width"] + 1
    assert pane["y"] <= box["y"] and box["y"] + box["height"] <= pane["y"] + pane["height"] + 1

    # typing while the preview is open redraws it and keeps the focus in the form
    page.get_by_label("Greeting").fill("Welcome, shopper")
    page.get_by_label("Greeting").press("End")
    page.keyboard.type("!")
    dialog.get_by_text("Welcome, shopper!").wait_for()
    assert page.evaluate("document.activeElement.id") == "id_greeting"

    page.get_by_role("button", name="Launcher", exact=True).click()
    assert not dialog.is_visible()
    with tenant_context(tenant):
        assert Widget.objects.get().bot_name == "Assistant"  # nothing was saved
    assert page.js_errors == []


def test_preview_shows_the_offline_message_when_the_hours_say_closed(page, site, live_port):
    owner = UserFactory(email="builder-hours@example.com")
    tenant = TenantFactory(slug="builder-hours", name="Builder Hours", owner=owner)
    with tenant_context(tenant):
        widget = Widget.objects.get()
    signed_in(page, owner, "builder-hours.saas.test")
    page.goto(f"http://builder-hours.saas.test:{live_port}/dashboard/widgets/{widget.pk}/")
    page.locator("#preview-stage [data-chat-widget]").wait_for(state="attached")
    page.get_by_label("Offline message").fill("Back on Monday.")
    page.get_by_role("button", name="Chat", exact=True).click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    assert dialog.get_by_text("Back on Monday.").count() == 0  # always open

    hours = page.get_by_role("group", name="Business hours")
    hours.get_by_label("Always open").uncheck()
    for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday"):
        hours.get_by_label(f"{day} open").uncheck()  # closed every day
    dialog.get_by_text("Back on Monday.").wait_for()
    assert page.js_errors == []
