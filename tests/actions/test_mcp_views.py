"""The dashboard's MCP server pages (actions.views): who may open what, the form through
the same services as the API (problems kept on the fields), header values never shown, the
secret shown once, "Refresh tools" and the allowed tools against a real local MCP server,
the tool test runner, rotate and delete; every write audited."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from actions import services
from actions.models import ActionCall, McpServer
from audit.models import AuditEvent
from tests.fakes.mcp_server import McpTestServer

from .test_views import client_as

pytestmark = pytest.mark.django_db
BASE = "/dashboard/actions/mcp-servers/"


@pytest.fixture(scope="module")
def mcp_shared():
    with McpTestServer() as server:
        yield server


@pytest.fixture
def mcp(mcp_shared, settings):
    settings.ACTIONS_PRIVATE_ALLOWLIST = [mcp_shared.address]
    mcp_shared.requests.clear()
    return mcp_shared


def form_data(mcp, **fields) -> dict:
    return {
        "title": "Acme shop",
        "name": "shop",
        "url": mcp.url,
        "new_headers": "Authorization: Bearer mcp-key-123",
        "timeout_seconds": "10",
        "audience": "anyone",
        "is_enabled": "on",
        **fields,
    }


def _server(tenant) -> McpServer:
    with tenant_context(tenant.tenant):
        return McpServer.objects.get()


@pytest.mark.parametrize("role", ["admin", "agent"])
def test_agents_read_the_list_and_change_nothing(tenant_a, mcp, role):
    with tenant_context(tenant_a.tenant):
        server = services.mcp_server_create(data={"name": "shop", "title": "Acme shop", "url": mcp.url})
        services.mcp_server_update(server=server, data={"allowed_tools": ["order_status"]})
    client = client_as(tenant_a, role)
    listed = client.get(BASE)
    page = listed.content.decode()
    assert listed.status_code == 200 and "Acme shop" in page and "127.0.0.1" in page
    assert '<strong>1</strong> <span class="muted">of 5</span>' in page  # allowed of listed
    manager = role == "admin"
    assert ("New MCP server" in page) is manager
    assert 'href="/dashboard/actions/mcp-servers/"' in client.get("/dashboard/actions/").content.decode()
    for path in ("new/", f"{server.public_id}/", f"{server.public_id}/test/"):
        assert client.get(BASE + path).status_code == (200 if manager else 403), path
    refused = client.post(BASE + f"{server.public_id}/", {"action": "delete"})
    assert refused.status_code == (302 if manager else 403)


def test_the_empty_list_explains_mcp_servers(tenant_a):
    page = client_as(tenant_a).get(BASE).content.decode()
    assert "No MCP servers yet" in page and "#tag/actions" in page


def test_add_keeps_the_problems_on_the_fields_then_shows_the_secret_once_and_the_tools(tenant_a, mcp):
    client = client_as(tenant_a)
    bad = client.post(BASE + "new/", form_data(mcp, name="Shop Tools"))
    assert bad.status_code == 422 and "name" in bad.context["form"].errors
    assert 'value="Acme shop"' in bad.content.decode()  # what was typed stays
    insecure = client.post(BASE + "new/", form_data(mcp, url="http://example.com/mcp"))
    assert insecure.status_code == 422 and "url" in insecure.context["form"].errors
    created = client.post(BASE + "new/", form_data(mcp))
    assert created.status_code == 200
    secret = created.context["secret"]
    assert secret.startswith("acsec_") and secret in created.content.decode()
    server = _server(tenant_a)
    assert server.last_error == "" and len(server.tools) == 5  # listed at once
    edit = client.get(BASE + f"{server.public_id}/").content.decode()
    assert secret not in edit and "mcp-key-123" not in edit  # shown once; values never
    assert "Authorization" in edit and "••••••" in edit
    assert "Where an order is: its delivery status." in edit  # each tool with its description
    assert 'name="allowed_tools" value="order_status"' in edit


def test_tools_are_allowed_in_the_form_and_headers_kept_unless_replaced(tenant_a, mcp):
    client = client_as(tenant_a)
    client.post(BASE + "new/", form_data(mcp))
    server = _server(tenant_a)
    data = form_data(
        mcp,
        action="update",
        new_headers="",
        keep_headers=["Authorization"],
        allowed_tools=["order_status", "refund"],
    )
    saved = client.post(BASE + f"{server.public_id}/", data)
    assert saved.status_code == 302
    with tenant_context(tenant_a.tenant):
        server.refresh_from_db()
        from actions.selectors import mcp_server_headers

        assert server.allowed_tools == ["order_status", "refund"]
        assert mcp_server_headers(server) == {"Authorization": "Bearer mcp-key-123"}
    unknown = client.post(BASE + f"{server.public_id}/", {**data, "allowed_tools": ["nope"]})
    assert unknown.status_code == 400 and "allowed_tools" in unknown.context["form"].errors
    removed = client.post(BASE + f"{server.public_id}/", {**data, "keep_headers": []})
    assert removed.status_code == 302
    with tenant_context(tenant_a.tenant):
        server.refresh_from_db()
        assert mcp_server_headers(server) == {}
        assert AuditEvent.objects.filter(action="mcp_server.updated").count() == 2


def test_refresh_lists_the_tools_again_and_says_when_it_fails(tenant_a, mcp, settings):
    client = client_as(tenant_a)
    client.post(BASE + "new/", form_data(mcp))
    server = _server(tenant_a)
    mcp.requests.clear()
    refreshed = client.post(BASE + f"{server.public_id}/", {"action": "refresh"}, follow=True)
    assert "Tools listed again: 5 on the server." in refreshed.content.decode()
    assert any(b"tools/list" in seen.body for seen in mcp.requests)
    settings.ACTIONS_PRIVATE_ALLOWLIST = []  # the address is refused now
    failed = client.post(BASE + f"{server.public_id}/", {"action": "refresh"}, follow=True)
    page = failed.content.decode()
    assert "The tools could not be listed" in page and "The last listing failed." in page
    with tenant_context(tenant_a.tenant):
        server.refresh_from_db()
        assert len(server.tools) == 5 and server.last_error  # the tools listed before stay
        assert AuditEvent.objects.filter(action="mcp_server.tools_refreshed").count() == 3


def test_the_test_runner_calls_a_tool_with_inputs_from_its_schema(tenant_a, mcp):
    client = client_as(tenant_a)
    client.post(BASE + "new/", form_data(mcp))
    server = _server(tenant_a)
    with tenant_context(tenant_a.tenant):
        services.mcp_server_update(server=server, data={"allowed_tools": ["order_status", "whoami"]})
    path = BASE + f"{server.public_id}/test/"
    page = client.get(path + "?tool=order_status").content.decode()
    assert 'name="in_order_id"' in page and "Order Id" in page  # a field per input, titled
    run = client.post(path, {"tool": "order_status", "mode": "fields", "in_order_id": "1042"})
    assert run.status_code == 200
    assert "Order 1042 has shipped with DHL." in run.content.decode()
    raw = client.post(path, {"tool": "whoami", "mode": "raw", "raw": "{}", "visitor_id": "cust-7"})
    assert "visitor: cust-7" in raw.content.decode()
    bad = client.post(path, {"tool": "order_status", "mode": "raw", "raw": "{nope"})
    assert bad.status_code == 400 and "raw" in bad.context["form"].errors
    with tenant_context(tenant_a.tenant):
        calls = list(ActionCall.objects.order_by("created_at").values_list("tool_name", "source", "status"))
    assert calls == [("order_status", "test", "succeeded"), ("whoami", "test", "succeeded")]


def test_rotate_shows_the_new_secret_once_and_delete_removes_the_server(tenant_a, mcp):
    client = client_as(tenant_a)
    client.post(BASE + "new/", form_data(mcp))
    server = _server(tenant_a)
    rotated = client.post(BASE + f"{server.public_id}/", {"action": "rotate"})
    assert rotated.status_code == 200 and rotated.context["secret"].startswith("acsec_")
    deleted = client.post(BASE + f"{server.public_id}/", {"action": "delete"})
    assert deleted.status_code == 302 and deleted.url == BASE
    with tenant_context(tenant_a.tenant):
        assert not McpServer.objects.exists()
        assert {"mcp_server.secret_rotated", "mcp_server.deleted"} <= set(
            AuditEvent.objects.values_list("action", flat=True)
        )
