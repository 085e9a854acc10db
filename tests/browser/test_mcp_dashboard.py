"""The MCP server pages in a real browser: an owner adds a server of a real local MCP server
(its signing secret shown once, its tools listed), allows two tools among the checkboxes
(each with its description), refreshes the list, runs a tool from the test runner with the
input made from its schema, and reads what the model gets. At 1,280 and 360 px, light and
dark: no horizontal overflow of the page, no CSP violation, no script error. Screenshots go
to ``$SCREENSHOTS_DIR`` (default: shots-actions in the temporary directory)."""

from __future__ import annotations

from django_tenants.utils import tenant_context

from actions.models import ActionCall, McpServer
from tests.browser.conftest import signed_in
from tests.browser.test_actions_dashboard import _check
from tests.browser.test_csp_browser import _violations, _watch
from tests.fakes.mcp_server import McpTestServer
from tests.tenants.factories import TenantFactory, UserFactory


def test_an_owner_adds_an_mcp_server_allows_tools_and_tests_one(page, site, live_port, settings):
    owner = UserFactory(email="mcp-ui@example.com")
    tenant = TenantFactory(slug="mcp-ui", name="MCP UI", owner=owner)
    console = _watch(page)
    signed_in(page, owner, "mcp-ui.saas.test")
    base = f"http://mcp-ui.saas.test:{live_port}/dashboard/actions/"
    with McpTestServer() as mcp:
        settings.ACTIONS_PRIVATE_ALLOWLIST = [mcp.address]
        page.goto(base)
        page.get_by_role("link", name="MCP servers").first.click()
        assert "No MCP servers yet" in page.locator("main").inner_text()
        for width in (1280, 360):
            _check(page, "mcp-list-empty", width)
        page.get_by_role("link", name="New MCP server").first.click()
        page.fill("#id_title", "Acme shop")
        page.fill("#id_name", "Acme Shop")
        page.fill("#id_url", mcp.url)
        page.fill("#id_new_headers", "Authorization: Bearer mcp-key-123")
        page.get_by_role("button", name="Add server").click()
        assert "lower-case" in page.locator(".field.has-error").first.inner_text()  # kept on the field
        assert page.input_value("#id_title") == "Acme shop"
        for width in (1280, 360):
            _check(page, "mcp-new-error", width)
        page.fill("#id_name", "shop")
        page.fill("#id_new_headers", "Authorization: Bearer mcp-key-123")
        page.get_by_role("button", name="Add server").click()
        secret = page.locator("#action-secret").inner_text()
        assert secret.startswith("acsec_") and "not shown again" in page.locator("main").inner_text()

        page.get_by_role("link", name="Choose its tools").click()
        assert "mcp-key-123" not in page.content() and secret not in page.content()
        assert "Where an order is: its delivery status." in page.locator("#tools").inner_text()
        page.locator("label.tool-choice", has_text="order_status").click()
        page.locator("label.tool-choice", has_text="whoami").click()
        page.get_by_role("button", name="Save").click()
        assert "MCP server saved." in page.locator("body").inner_text()
        page.get_by_role("button", name="Refresh tools").click()
        assert "Tools listed again: 5 on the server." in page.locator("body").inner_text()
        assert page.get_by_label("order_status").first.is_checked()
        for width in (1280, 360):
            _check(page, "mcp-edit", width)

        page.get_by_role("link", name="Test a tool").first.click()
        page.get_by_label("Order Id").fill("1042")
        page.get_by_role("button", name="Run the tool").click()
        assert page.locator("#model-result").inner_text() == "Order 1042 has shipped with DHL."
        for width in (1280, 360):
            _check(page, "mcp-test", width)
        page.emulate_media(color_scheme="dark")
        for width in (1280, 360):
            _check(page, "mcp-test-dark", width)
        page.goto(page.url.split("/test/")[0] + "/")
        for width in (1280, 360):
            _check(page, "mcp-edit-dark", width)
        page.goto(base + "mcp-servers/")
        for width in (1280, 360):
            _check(page, "mcp-list-dark", width)
        page.emulate_media(color_scheme="light")
        page.goto(base + "mcp-servers/")
        for width in (1280, 360):
            _check(page, "mcp-list", width)
    with tenant_context(tenant):
        server = McpServer.objects.get()
        assert server.allowed_tools == ["order_status", "whoami"]
        assert ActionCall.objects.get().source == ActionCall.Source.TEST
        server.delete()
    assert _violations(page) == [] and console == []
    assert page.js_errors == []
