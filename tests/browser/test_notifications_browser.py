"""static/chat/notify.js on a dashboard page, and the resume page, in a real browser under
the CSP: an ``inbox:notification`` event shows a toast (text, never markup), a browser
notification only while the tab is hidden and permission is granted; the permission
banner appears only after a trigger (never on load) and a dismissal is remembered. The
resume page reads the token from the fragment, takes it out of the address bar and hands
it to the widget's loader."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from django_tenants.utils import tenant_context

from chat.models import AgentProfile
from tests.browser.conftest import PageProblems, axe_serious_violations, settled, signed_in
from widget_builder.models import Widget

SHOTS = Path(os.environ.get("SCREENSHOT_DIR") or Path(tempfile.gettempdir()) / "shots-notify")

# A stand-in for the browser's Notification API: permission "default" until asked,
# recording what the page does with it.
FAKE_NOTIFICATIONS = """
(() => {
  window.__notifications = []; window.__asked = 0; window.__hidden = false;
  class FakeNotification {
    constructor(title, options) { window.__notifications.push({title, body: options && options.body}); }
    addEventListener() {}
    close() {}
    static requestPermission() { window.__asked += 1; FakeNotification.permission = "granted";
      return Promise.resolve("granted"); }
  }
  FakeNotification.permission = window.__permission || "default";
  window.Notification = FakeNotification;
  Object.defineProperty(document, "hidden", {configurable: true, get: () => window.__hidden});
})();
"""

DISPATCH = """(detail) => document.dispatchEvent(new CustomEvent("inbox:notification", {detail}))"""
FRAME = {
    "type": "notification",
    "kind": "handoff",
    "conversation": 7,
    "title": "A visitor asked for a person",
    "body": "<img src=x id=injected> Ada: where is my order?",
}


@pytest.fixture
def dashboard(page, seeded, live_port, django_db_blocker):
    tenant_a = seeded["a"]
    host = f"{tenant_a.tenant.slug}.{settings.BASE_DOMAIN}"
    with django_db_blocker.unblock():
        signed_in(page, tenant_a.owner, host)
    page.add_init_script(FAKE_NOTIFICATIONS)
    problems = PageProblems(page)
    yield page, f"http://{host}:{live_port}/dashboard/team/", tenant_a
    with django_db_blocker.unblock(), tenant_context(tenant_a.tenant):
        AgentProfile.objects.filter(user_id=tenant_a.owner.pk).delete()
    assert problems.read(page)["CSP violations"] == []
    assert page.js_errors == []


def test_a_notification_event_shows_a_toast_and_the_banner_only_after_it(dashboard):
    page, url, _ = dashboard
    page.goto(url)
    settled(page)
    assert page.locator("#notify-permission").count() == 0  # never on load
    assert page.locator(".toasts [data-notification]").count() == 0

    page.evaluate(DISPATCH, FRAME)
    toast = page.locator(".toasts [data-notification='handoff']")
    toast.wait_for()
    assert "A visitor asked for a person" in toast.inner_text()
    assert "<img src=x id=injected>" in toast.inner_text() and page.locator("#injected").count() == 0
    assert toast.locator("a").get_attribute("href") == "/dashboard/conversations/7/"
    assert page.evaluate("window.__notifications") == []  # the tab is visible

    banner = page.locator("#notify-permission")
    banner.wait_for()
    for width in (360, 1280):
        page.set_viewport_size({"width": width, "height": 800})
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"notify-{width}.png"))
    assert axe_serious_violations(page) == []
    banner.get_by_role("button", name="Turn on notifications").click()
    banner.wait_for(state="detached")
    assert page.evaluate("window.__asked") == 1

    page.evaluate("window.__hidden = true")
    page.evaluate(DISPATCH, {**FRAME, "kind": "message", "title": "New message", "body": "Hello"})
    assert page.evaluate("window.__notifications") == [{"title": "New message", "body": "Hello"}]
    page.locator(".toasts [data-notification='message']").wait_for()


def test_a_dismissed_banner_stays_dismissed_and_preferences_reach_the_page(dashboard, django_db_blocker):
    page, url, tenant_a = dashboard
    with django_db_blocker.unblock(), tenant_context(tenant_a.tenant):
        AgentProfile.objects.create(user_id=tenant_a.owner.pk, notify_sound=False)
    page.goto(url)
    body = page.locator("body")
    assert body.get_attribute("data-notify-sound") == "0" and body.get_attribute("data-notify-browser") == "1"
    page.evaluate("document.dispatchEvent(new CustomEvent('inbox:ready'))")
    page.locator("#notify-permission").get_by_role("button", name="Not now").click()
    page.locator("#notify-permission").wait_for(state="detached")
    page.reload()
    page.evaluate(DISPATCH, FRAME)
    page.locator(".toasts [data-notification]").first.wait_for()
    settled(page)
    assert page.locator("#notify-permission").count() == 0 and page.evaluate("window.__asked") == 0


def test_the_resume_page_hands_the_fragment_token_to_the_widget(page, seeded, live_port, django_db_blocker):
    tenant_a = seeded["a"]
    with django_db_blocker.unblock(), tenant_context(tenant_a.tenant):
        key = Widget.objects.order_by("id").values_list("key", flat=True).first()
    problems = PageProblems(page)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"http://saas.test:{live_port}/w/v1/c/{key}/#resume=tok.en-123")
    loader = page.locator("script[data-resume]")
    loader.wait_for(state="attached")
    assert loader.get_attribute("data-resume") == "tok.en-123" and loader.get_attribute("data-widget") == key
    assert "#" not in page.url and all("tok.en-123" not in url for url in requests)
    assert tenant_a.tenant.name in page.locator("h1").inner_text()
    for width in (360, 1280):
        page.set_viewport_size({"width": width, "height": 800})
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"resume-{width}.png"))
    assert problems.read(page)["CSP violations"] == [] and page.js_errors == []
