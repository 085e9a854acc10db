"""The embedded widget in a real browser, on a customer's page served from another origin."""

from __future__ import annotations

import re

from django_tenants.utils import tenant_context

from chat.models import Contact, Conversation
from tests.browser.conftest import answer_finished
from tests.tenants.factories import TenantFactory, UserFactory
from widget_builder.models import Widget
from widget_builder.services import widget_allowed_origins_set, widget_prechat_set, widget_publish

HOSTILE_CSS = """
<style>
  * { color: lime !important; font-family: "Comic Sans MS", cursive !important; }
  button { background: red !important; border: 5px dashed orange !important; padding: 40px !important; }
  div { margin: 30px !important; }
</style>
"""


def _setup_widget(host_pages) -> Widget:
    owner = UserFactory(email="runtime@example.com")
    tenant = TenantFactory(slug="runtime-shop", name="Runtime Shop", owner=owner)
    with tenant_context(tenant):
        widget = Widget.objects.get()
        widget_prechat_set(
            widget=widget,
            enabled=True,
            fields=[
                {"kind": "name", "label": "Your name", "required": True},
                {"kind": "email", "label": "Your email", "required": True},
            ],
        )
        widget_allowed_origins_set(widget=widget, origins=[f"http://customer.test:{host_pages['port']}"])
        widget = widget_publish(widget=widget)
    return tenant, widget


def _page_html(site: str, key: str) -> str:
    return (
        f"<!doctype html><html><head><title>Shop</title>{HOSTILE_CSS}</head><body>"
        f"<h1>Customer shop</h1><button id='host-button'>Buy</button>"
        f'<script async src="{site}/w/v1/loader.js" data-widget="{key}"></script></body></html>'
    )


def test_widget_on_an_allowed_site(page, site, host_pages):
    tenant, widget = _setup_widget(host_pages)
    host_pages["/shop"] = _page_html(site, widget.key)
    page.clock.install()  # the widget's clock: time flows, and run_for() moves it on at once
    page.goto(f"http://customer.test:{host_pages['port']}/shop")

    launcher = page.locator("div[data-chat-widget] button")
    launcher.wait_for()
    # the host page's CSS does not reach inside the widget, and ours does not leak out
    assert launcher.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(45, 91, 215)"
    assert launcher.evaluate("b => getComputedStyle(b).borderStyle") != "dashed"
    assert (
        page.locator("#host-button").evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(255, 0, 0)"
    )

    launcher.click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    page.get_by_role("button", name="Start the conversation").click()
    page.get_by_text("This field is required.").first.wait_for()  # server-side validation, per field
    assert page.get_by_label("Your name *").get_attribute("aria-invalid") == "true"

    page.get_by_label("Your name *").fill("Grace")
    page.get_by_label("Your email *").fill("grace@example.com")
    page.clock.run_for(1600)  # a human's pace (faster is flagged as a bot)
    page.get_by_role("button", name="Start the conversation").click()
    composer = page.get_by_label("Write a message…")
    composer.wait_for()
    with tenant_context(tenant):
        contact = Contact.objects.get()
        assert (contact.name, contact.email, contact.flagged_as_bot) == ("Grace", "grace@example.com", False)
        assert Conversation.objects.filter(contact=contact).count() == 1
    composer.fill("Do you deliver on Sundays?")
    with answer_finished(page):  # before the reload below
        composer.press("Enter")
        page.get_by_text("Do you deliver on Sundays?").wait_for()

    page.keyboard.press("Escape")
    assert not dialog.is_visible()
    # the visitor keeps their conversation across page loads
    page.reload()
    page.locator("div[data-chat-widget] button").click()
    page.get_by_text("Do you deliver on Sundays?").wait_for()  # the conversation came back
    with tenant_context(tenant):
        assert Contact.objects.count() == 1 and Conversation.objects.count() == 1
    assert page.js_errors == []


def test_widget_refused_on_another_site_without_breaking_the_page(page, site, host_pages):
    _, widget = _setup_widget(host_pages)
    host_pages["/evil"] = _page_html(site, widget.key)
    with page.expect_console_message(lambda message: "not available on this site" in message.text):
        page.goto(f"http://evil.test:{host_pages['port']}/evil")  # the loader says it draws nothing
    assert page.locator("div[data-chat-widget]").count() == 0
    assert page.js_errors == []
    assert re.search("Customer shop", page.content())


def test_keyboard_focus_api_and_phone_width(page, site, host_pages):
    _, widget = _setup_widget(host_pages)
    host_pages["/phone"] = (
        "<!doctype html><html><body><h1>Shop</h1>"
        "<script>window.events = []; window.ChatWidget = {q: ["
        "['on', ['open', function () { events.push('open'); }]],"
        " ['on', ['close', function () { events.push('close'); }]], ['setLocale', ['de']]]};</script>"
        f'<script async src="{site}/w/v1/loader.js" data-widget="{widget.key}"></script></body></html>'
    )
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(f"http://customer.test:{host_pages['port']}/phone")
    launcher = page.get_by_role("button", name="Chat öffnen")  # queued setLocale("de") applied
    launcher.wait_for()
    launcher.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    box = dialog.bounding_box()
    assert box["width"] == 360  # full width on a phone

    # focus stays inside the dialog while tabbing
    for _ in range(8):
        page.keyboard.press("Tab")
        inside = page.evaluate(
            "() => { const h = document.querySelector('[data-chat-widget]');"
            " const a = h.shadowRoot.activeElement;"
            " return !!(a && h.shadowRoot.querySelector('.panel').contains(a)); }"
        )
        assert inside
    page.keyboard.press("Escape")
    assert not dialog.is_visible()
    assert page.evaluate(
        "() => document.activeElement.getAttribute('data-chat-widget') !== null"
    )  # back on the launcher
    assert page.evaluate("window.events") == ["open", "close"]
    assert page.js_errors == []


def test_suggested_questions_start_the_conversation(page, site, host_pages):
    from chat.models import Message

    tenant, widget = _setup_widget(host_pages)
    with tenant_context(tenant):
        Widget.objects.filter(pk=widget.pk).update(
            prechat_enabled=False, suggested_questions=["What are your hours?"]
        )
        widget = widget_publish(widget=Widget.objects.get(pk=widget.pk))
    host_pages["/faq"] = _page_html(site, widget.key)
    page.goto(f"http://customer.test:{host_pages['port']}/faq")
    page.locator("div[data-chat-widget] button").click()
    with answer_finished(page):
        page.get_by_role("button", name="What are your hours?").click()
        page.locator("p.bubble.mine", has_text="What are your hours?").wait_for()
    assert page.get_by_role("button", name="What are your hours?").count() == 0
    with tenant_context(tenant):
        stored = list(Message.objects.order_by("seq").values_list("role", "text"))
        assert stored[0] == ("visitor", "What are your hours?") and stored[1][0] == "bot"  # answered
    assert page.js_errors == []
