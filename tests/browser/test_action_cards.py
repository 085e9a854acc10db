"""AI actions in the widget: the confirmation card (the inputs in plain words, Confirm and
Cancel, with the keyboard), answered once, kept across a reload; and the offline keyword
rule's form (generated from the action's schema, required fields marked). The model is the
fake OpenAI-compatible server, the action's endpoint a local server."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from django_tenants.utils import tenant_context

from actions import services
from chat.selectors import bot_settings_for
from tests.browser.conftest import answer_finished, horizontal_overflow
from tests.fakes.action_endpoint import ActionEndpoint, Answer
from tests.fakes.llm_server import Behaviour, FakeLLMServer, FakeToolCall
from tests.tenants.factories import TenantFactory, UserFactory
from widget_builder.models import Widget
from widget_builder.services import widget_allowed_origins_set, widget_publish

WAIT = 10_000  # ms, for anything the widget fetches
SHOTS = Path(os.environ.get("SCREENSHOT_DIR") or Path(tempfile.gettempdir()) / "shots-widget")
PARAMETERS = {
    "type": "object",
    "properties": {
        "order_id": {"type": "string", "title": "Order number", "description": "On your confirmation email."},
        "reason": {"type": "string", "title": "Reason"},
        "speed": {"enum": ["standard", "express"], "title": "Refund speed"},
        "notify": {"type": "boolean", "title": "Email me when it is done"},
    },
    "required": ["order_id", "speed"],
}


@pytest.fixture
def fake():
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def shop(settings):
    with ActionEndpoint() as server:
        settings.ACTIONS_PRIVATE_ALLOWLIST = [server.address]
        yield server


def _setup(host_pages, shop, slug: str, *, provider: str, fake=None, **action_fields):
    owner = UserFactory(email=f"{slug}@example.com")
    tenant = TenantFactory(slug=slug, name="Action Shop", owner=owner)
    type(tenant).objects.filter(pk=tenant.pk).update(plan="starter")  # a tenant's own LLM server
    with tenant_context(tenant):
        widget = Widget.objects.get()
        widget_allowed_origins_set(widget=widget, origins=[f"http://customer.test:{host_pages['port']}"])
        widget = widget_publish(widget=widget)
        bot = bot_settings_for(widget)
        bot.provider = provider
        if fake is not None:
            bot.base_url, bot.model, bot.key_source = fake.url + "/v1", "fake-model", "own"
        bot.save()
        services.action_create(
            data={
                "name": "order_cancel",
                "title": "Cancel an order",
                "description": "Cancel an order of the visitor's.",
                "parameters": PARAMETERS,
                "url": shop.url + "/orders/{order_id}/cancel",
                "response_fields": ["status"],
                **action_fields,
            }
        )
    return widget


def _open(page, site, host_pages, widget, path: str):
    host_pages[path] = (
        "<!doctype html><html><head><title>Shop</title></head><body><h1>Customer shop</h1>"
        f'<script async src="{site}/w/v1/loader.js" data-widget="{widget.key}"></script></body></html>'
    )
    page.goto(f"http://customer.test:{host_pages['port']}{path}")
    page.locator("div[data-chat-widget] button").first.click()
    composer = page.get_by_label("Write a message…")
    composer.wait_for(timeout=WAIT)
    return composer


def _shots(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 360):
        page.set_viewport_size({"width": width, "height": 760})
        page.wait_for_timeout(100)
        assert horizontal_overflow(page) == ""
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"))
    page.set_viewport_size({"width": 1024, "height": 800})


def _asked(page, composer, fake):
    fake.enqueue(
        Behaviour(
            chunks=["I can cancel order 1042 for you."],
            tool_calls=[FakeToolCall("order_cancel", {"order_id": "1042", "speed": "express"})],
        )
    )
    composer.fill("Please cancel my order 1042, refund express")
    composer.press("Enter")
    card = page.locator(".card", has_text="Cancel an order")
    card.wait_for(timeout=WAIT)
    return card


def test_the_confirmation_card_runs_the_call_once_confirmed_with_the_keyboard(
    page, site, host_pages, fake, shop
):
    widget = _setup(host_pages, shop, "cards-confirm", provider="openai_compatible", fake=fake,
                    requires_confirmation=True)  # fmt: skip
    composer = _open(page, site, host_pages, widget, "/confirm")
    card = _asked(page, composer, fake)
    assert page.locator(".msg", has_text="I can cancel order 1042 for you.").count() == 1
    assert card.locator("dt").all_inner_texts() == ["Order number", "Refund speed"]
    assert card.locator("dd").all_inner_texts() == ["1042", "express"]
    assert shop.requests == []  # nothing sent before the visitor confirms
    _shots(page, "action-confirm-card")
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=str(SHOTS / "action-confirm-card-dark-1024.png"))
    page.emulate_media(color_scheme="light")

    shop.answers = [Answer(body=b'{"status": "cancelled"}')]
    fake.enqueue(Behaviour(text="Done: order 1042 is cancelled."))
    confirm = card.get_by_role("button", name="Confirm")
    confirm.focus()
    with answer_finished(page):
        page.keyboard.press("Enter")  # keyboard-accessible: a real button
        page.locator(".msg", has_text="Done: order 1042 is cancelled.").wait_for(timeout=WAIT)
    assert page.locator("p.bubble.mine", has_text="Confirmed: Cancel an order").count() == 1
    assert page.locator(".card .state").inner_text() == "Confirmed"
    assert page.locator(".card button").count() == 0  # answered: no second click possible
    assert len(shop.requests) == 1 and shop.requests[0].path == "/orders/1042/cancel"

    page.reload()  # the card and its outcome survive a reload
    page.locator("div[data-chat-widget] button").first.click()
    page.locator(".card .state", has_text="Confirmed").wait_for(timeout=WAIT)
    assert page.locator(".card button").count() == 0
    assert len(shop.requests) == 1
    assert page.js_errors == []


def test_the_confirmation_card_cancelled_sends_nothing_even_confirmed_in_another_tab(
    page, site, host_pages, fake, shop
):
    widget = _setup(host_pages, shop, "cards-cancel", provider="openai_compatible", fake=fake,
                    requires_confirmation=True)  # fmt: skip
    composer = _open(page, site, host_pages, widget, "/cancel")
    card = _asked(page, composer, fake)
    other = page.context.new_page()  # a second tab of the same visitor, the card pending there too
    other.goto(page.url)
    other.locator("div[data-chat-widget] button").first.click()
    other_card = other.locator(".card", has_text="Cancel an order")
    other_card.get_by_role("button", name="Confirm").wait_for(timeout=WAIT)

    fake.enqueue(Behaviour(text="OK, I left order 1042 as it is."))
    with answer_finished(page):
        card.get_by_role("button", name="Cancel").click()
        page.locator(".msg", has_text="OK, I left order 1042 as it is.").wait_for(timeout=WAIT)
    assert page.locator(".card .state").inner_text() == "Cancelled"
    assert "declined" in fake.requests[-1].tool_results[0]["content"]

    other_card.get_by_role("button", name="Confirm").click()  # too late: answered in the first tab
    other.get_by_text("This was already answered.").wait_for(timeout=WAIT)
    other.locator(".card .state", has_text="Cancelled").wait_for(timeout=WAIT)
    assert shop.requests == [] and len(fake.requests) == 2
    assert page.js_errors == []


def test_offline_a_trigger_phrase_opens_the_form_that_calls_the_action(page, site, host_pages, shop):
    widget = _setup(host_pages, shop, "cards-form", provider="offline", trigger_phrases=["cancel my order"])
    composer = _open(page, site, host_pages, widget, "/form")
    composer.fill("Hello, I would like to cancel my order")
    composer.press("Enter")
    form = page.locator("form.card", has_text="Cancel an order")
    form.wait_for(timeout=WAIT)
    assert page.locator(".msg", has_text="Please fill in the details below.").count() == 1
    assert form.locator("label").all_inner_texts() == [
        "Order number *",
        "Refund speed *",
        "Email me when it is done",
        "Reason (optional)",
    ]
    order = form.get_by_label("Order number *")
    assert order.get_attribute("aria-required") == "true"
    assert form.locator(".hint").inner_text() == "On your confirmation email."
    _shots(page, "action-form")

    form.get_by_role("button", name="Send").click()  # nothing filled in: the required are said
    assert order.get_attribute("aria-invalid") == "true"
    assert form.locator(".err:not([hidden])").first.inner_text() == "This field is required."
    assert shop.requests == []

    shop.answers = [Answer(body=b'{"status": "cancelled"}')]
    order.fill("1042")
    form.get_by_label("Refund speed *").select_option("express")
    with page.expect_response(lambda r: r.url.endswith("/submit")):
        form.get_by_role("button", name="Send").click()
    page.locator(".msg", has_text="Done: Cancel an order.").wait_for(timeout=WAIT)
    assert "Status: cancelled" in page.locator(".msg", has_text="Done: Cancel an order.").inner_text()
    assert page.locator("p.bubble.mine", has_text="Order number: 1042").count() == 1
    [called] = shop.requests
    assert called.path == "/orders/1042/cancel"
    _shots(page, "action-form-sent")
    assert page.js_errors == []
