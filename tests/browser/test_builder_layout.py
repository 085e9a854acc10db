"""The widget's pages in a real browser at a phone's and a laptop's width: nothing wider
than the screen, the preview in its pane, no serious or critical accessibility problem.
Screenshots go to $SCREENSHOT_DIR (default: shots-builder in the temporary directory)
for review."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from django_tenants.utils import tenant_context

from chat.models import AutomationRule
from tests.browser.conftest import axe_serious_violations, signed_in
from tests.tenants.factories import TenantFactory, UserFactory
from widget_builder.models import Widget

SHOTS = Path(os.environ.get("SCREENSHOT_DIR") or Path(tempfile.gettempdir()) / "shots-builder")


@pytest.fixture
def workspace(page, site):
    owner = UserFactory(email="layout@example.com")
    tenant = TenantFactory(slug="layout-co", name="Layout Co", owner=owner)
    with tenant_context(tenant):
        widget = Widget.objects.get()
        widget.suggested_questions = ["Do you ship abroad?", "What does it cost?"]
        widget.prechat_fields = [
            {
                "key": "email",
                "kind": "email",
                "label": "Work email",
                "required": True,
                "placeholder": "",
                "options": [],
            }
        ]
        widget.business_hours = {
            "tz": "Europe/Berlin",
            "days": {"mon": [["09:00", "12:00"], ["13:00", "17:00"]]},
        }
        widget.allowed_origins = ["https://www.example.com"]
        widget.save()
        widget.rule = AutomationRule.objects.create(
            widget=widget,
            kind="keyword",
            name="Refunds",
            pattern="refund, money back",
            reply="See our policy.",
        )
    signed_in(page, owner, "layout-co.saas.test")
    return widget


@pytest.mark.parametrize("width", [360, 1280])
def test_widget_pages_fit_the_screen_and_pass_axe(page, live_port, workspace, width, settings):
    settings.LLM_PROVIDER = "offline"  # the playground answers from the knowledge base alone
    base = f"http://layout-co.saas.test:{live_port}/dashboard/widgets"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": width, "height": 900})
    pages = {
        "list": f"{base}/",
        "builder": f"{base}/{workspace.pk}/",
        "bot": f"{base}/{workspace.pk}/bot/",
        "automations": f"{base}/{workspace.pk}/automations/",
        "playground": f"{base}/{workspace.pk}/playground/",
        "automation-delete": f"{base}/{workspace.pk}/automations/{workspace.rule.pk}/delete/",
    }
    for name, url in pages.items():
        page.goto(url)
        if name == "builder":
            page.locator("#preview-stage [data-chat-widget]").wait_for(state="attached")
            page.get_by_role("group", name="Business hours").wait_for()
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
        assert scroll_width <= width, (name, scroll_width)
        assert axe_serious_violations(page) == [], name
    # the playground, answered: a chat
    page.goto(pages["playground"])
    page.get_by_role("button", name="Do you ship abroad?").click()
    page.locator("#answer").wait_for()
    page.screenshot(path=str(SHOTS / f"playground-answer-{width}.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert axe_serious_violations(page) == []
    # the preview's views, in the pane
    page.goto(pages["builder"])
    page.get_by_role("button", name="Prechat form").click()
    page.get_by_role("dialog").wait_for()
    page.locator("#preview-stage").screenshot(path=str(SHOTS / f"preview-prechat-{width}.png"))
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert axe_serious_violations(page) == []
    assert page.js_errors == []


def test_the_bot_tab_shows_the_server_and_key_fields_only_where_they_apply(page, live_port, workspace):
    page.goto(f"http://layout-co.saas.test:{live_port}/dashboard/widgets/{workspace.pk}/bot/")
    server, key_choice, key = (page.locator(f"#id_{name}") for name in ("base_url", "key_source", "api_key"))
    # the platform's model: nothing to configure
    assert not server.is_visible() and not key_choice.is_visible() and not key.is_visible()
    page.locator("#id_provider").select_option("openai_compatible")
    assert server.is_visible() and key_choice.is_visible() and not key.is_visible()
    key_choice.select_option("own")
    assert key.is_visible()
    page.locator("#id_provider").select_option("anthropic")
    assert not server.is_visible() and key.is_visible()
    assert page.js_errors == []
