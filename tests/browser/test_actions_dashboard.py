"""The AI actions' pages in a real browser: an owner creates an action with the form (its
signing secret shown once), opens the test runner, fills the inputs made from the JSON
Schema and runs a real call against a local endpoint, and reads the request (header values
masked), the response and what the model gets. At 1,280 and 360 px, light and dark: no
horizontal overflow of the page, no CSP violation, no script error. Screenshots go to
``$SCREENSHOTS_DIR`` (default: shots-actions in the temporary directory), for review."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from django_tenants.utils import tenant_context

from actions import services
from actions.models import Action, ActionCall
from tests.browser.conftest import signed_in
from tests.browser.test_csp_browser import _violations, _watch
from tests.fakes.action_endpoint import ActionEndpoint, Answer
from tests.tenants.factories import TenantFactory, UserFactory

SHOTS = Path(os.environ.get("SCREENSHOTS_DIR") or Path(tempfile.gettempdir()) / "shots-actions")
PARAMETERS = {
    "type": "object",
    "properties": {
        "order_id": {"type": "string", "title": "Order number", "description": "As printed on the receipt."},
        "express": {"type": "boolean", "title": "Express refund"},
    },
    "required": ["order_id"],
}


# What sticks out past the viewport; a stacked table's header row is visually hidden (1 px,
# clipped) but keeps its cells' boxes, so it is left out.
WIDER_THAN_THE_SCREEN = """[...document.querySelectorAll('body *')]
  .filter(e => !e.closest('.table-stacked thead'))
  .filter(e => e.getBoundingClientRect().right > innerWidth + 1).slice(0, 5)
  .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""


def _document(server: str) -> dict:
    order = {"name": "order_id", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Shop", "version": "1"},
        "servers": [{"url": server + "/api"}],
        "paths": {
            "/orders/{order_id}": {
                "get": {"operationId": "order_status", "summary": "Where an order is", "parameters": [order]}
            },
            "/tickets/{ticket_id}": {"get": {"operationId": "ticket_get", "summary": "A support ticket"}},
        },
    }


def _check(page, name: str, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    page.wait_for_load_state("networkidle")
    assert page.evaluate(WIDER_THAN_THE_SCREEN) == [], (name, width)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)


def test_an_owner_creates_an_action_and_runs_the_test_runner(page, site, live_port, settings):
    owner = UserFactory(email="actions-ui@example.com")
    tenant = TenantFactory(slug="actions-ui", name="Actions UI", owner=owner)
    console = _watch(page)
    signed_in(page, owner, "actions-ui.saas.test")
    base = f"http://actions-ui.saas.test:{live_port}/dashboard/actions/"
    with ActionEndpoint(
        [Answer(body=b'{"refund": {"status": "queued", "amount": 12.5}, "internal": "x"}')]
    ) as shop:
        settings.ACTIONS_PRIVATE_ALLOWLIST = [shop.address]
        page.goto(base)
        assert "No AI actions yet" in page.locator("main").inner_text()
        for width in (1280, 360):
            _check(page, "list-empty", width)
        page.get_by_role("link", name="New action").first.click()
        page.fill("#id_title", "Refund an order")
        page.fill("#id_name", "order_refund")
        page.fill("#id_description", "Refund an order of the visitor's when they ask for their money back.")
        page.select_option("#id_method", "POST")
        page.fill("#id_url", shop.url + "/orders/{order_id}/refund")
        page.fill("#id_parameters", "{not json")
        page.fill("#id_new_headers", "Authorization: Bearer shop-key-123")
        page.fill("#id_response_fields", "refund.status\nrefund.amount")
        page.get_by_role("button", name="Create action").click()
        assert "Not valid JSON" in page.locator(".field.has-error").first.inner_text()  # kept on the field
        assert page.input_value("#id_title") == "Refund an order"
        page.fill("#id_parameters", json.dumps(PARAMETERS, indent=2))
        page.fill("#id_new_headers", "Authorization: Bearer shop-key-123")
        page.get_by_role("button", name="Create action").click()
        secret = page.locator("#action-secret").inner_text()
        assert secret.startswith("acsec_") and "not shown again" in page.locator("main").inner_text()

        page.get_by_role("link", name="Back to the action").click()
        assert "shop-key-123" not in page.content() and secret not in page.content()
        for width in (1280, 360):
            _check(page, "edit", width)
        page.get_by_role("link", name="Test it").first.click()
        page.get_by_label("Order number").fill("1042")
        page.get_by_label("Express refund").select_option("true")
        page.fill("#id_visitor_id", "cust-42")
        page.get_by_role("button", name="Run the call").click()
        request_shown = page.locator("#sent-request").inner_text()
        assert f"POST {shop.url}/orders/1042/refund" in request_shown
        assert "Authorization: ••••••" in request_shown and "X-Chatbot-Signature: v1=" in request_shown
        assert "internal" in page.locator("#response-excerpt").inner_text()
        assert json.loads(page.locator("#model-result").inner_text()) == {
            "refund.status": "queued",
            "refund.amount": 12.5,
        }
        [called] = shop.requests
        assert called.headers["authorization"] == "Bearer shop-key-123" and json.loads(called.body) == {
            "express": True
        }
        for width in (1280, 360):
            _check(page, "test-runner", width)
        page.emulate_media(color_scheme="dark")
        for width in (1280, 360):
            _check(page, "test-runner-dark", width)
        page.goto(page.url.replace("/test/", "/"))
        for width in (1280, 360):
            _check(page, "edit-dark", width)
        page.goto(base)
        for width in (1280, 360):
            _check(page, "list-dark", width)
        page.emulate_media(color_scheme="light")
        page.goto(base)
        for width in (1280, 360):
            _check(page, "list", width)
        page.goto(base + "import/")
        page.fill("#id_document", json.dumps(_document(shop.url)))
        page.get_by_role("button", name="Preview").click()
        assert "not one of the parameters" in page.locator("#preview").inner_text()
        assert page.get_by_label("Import order_status").is_checked()
        for width in (1280, 360):
            _check(page, "import-preview", width)
        page.goto(base + "calls/")
        page.locator(".call summary").first.click()
        for width in (1280, 360):
            _check(page, "calls", width)
    with tenant_context(tenant):
        action = Action.objects.get()
        assert ActionCall.objects.get().source == ActionCall.Source.TEST
        services.action_delete(action=action)
    assert _violations(page) == [] and console == []
    assert page.js_errors == []
