"""MCP servers as a source of actions, against a real MCP server (the official SDK's
MCPServer over streamable HTTP on a loopback port the tests' allow-list lets through):
the tool list and its allow-list, calls in answers through the fake LLM provider, the
visitor's identity signed, refusals, a server that errs, hangs or answers junk, the
session's headers, and the REST API's refusals."""

from __future__ import annotations

import json

import pytest
from django.db import IntegrityError, transaction
from django_tenants.utils import tenant_context

from actions import services, signing
from actions.models import ActionCall, McpServer, PendingCall
from actions.selectors import mcp_server_signing_secret
from actions.tools import ActionTools
from audit.models import AuditEvent
from billing.models import UsageCounter
from billing.periods import tenant_period
from billing.plans import plan_get
from chat.models import Contact, Message
from tests.chat.conftest import fake_llm  # noqa: F401 - the fixture, shared
from tests.chat.visitors import make_visitor
from tests.fakes.action_endpoint import ActionEndpoint, Answer
from tests.fakes.llm_server import Behaviour, FakeToolCall
from tests.fakes.mcp_server import McpTestServer
from tests.fakes.network import PUBLIC_V4, FakeDNS
from tests.webhooks.test_api import client_for, send

pytestmark = pytest.mark.django_db
BASE = "/api/v1/actions/mcp-servers"


@pytest.fixture(scope="module")
def mcp_shared():
    with McpTestServer() as server:
        yield server


@pytest.fixture
def mcp(mcp_shared, settings):
    settings.ACTIONS_PRIVATE_ALLOWLIST = [mcp_shared.address]
    mcp_shared.requests.clear()
    return mcp_shared


def _server(mcp, **fields) -> McpServer:
    data = {
        "name": "shop",
        "url": mcp.url,
        "allowed_tools": ["order_status", "whoami", "broken", "slow"],
        **fields,
    }
    return services.mcp_server_create(data=data)  # its tools listed


def _rpc(seen) -> str:
    return json.loads(seen.body).get("method", "") if seen.body else ""


def test_the_tools_are_listed_and_only_the_allowed_ones_offered(ws, mcp):
    server = _server(mcp, allowed_tools=["order_status", "whoami"])
    assert server.last_error == "" and server.tools_refreshed_at is not None
    listed = {tool["name"]: tool for tool in server.tools}
    assert set(listed) == {"order_status", "whoami", "refund", "broken", "slow"}
    assert listed["order_status"]["input_schema"]["required"] == ["order_id"]
    offered = ActionTools().offered(conversation_id=0, widget_id=0)
    assert [tool.name for tool in offered] == ["shop__order_status", "shop__whoami"]
    assert offered[0].description == "Where an order is: its delivery status."
    # The session: initialize, the notification, the list, then the session's end.
    assert [(seen.method, _rpc(seen)) for seen in mcp.requests] == [
        ("POST", "initialize"),
        ("POST", "notifications/initialized"),
        ("POST", "tools/list"),
        ("DELETE", ""),
    ]
    first, *later = mcp.requests
    assert first.headers["accept"] == "application/json, text/event-stream"
    assert "mcp-session-id" not in first.headers
    session_ids = {seen.headers.get("mcp-session-id") for seen in later}
    assert len(session_ids) == 1 and None not in session_ids  # the server's id, sent back every time
    assert {seen.headers["mcp-protocol-version"] for seen in later} == {"2025-06-18"}
    # Taken off the list: no longer offered.
    services.mcp_server_update(server=server, data={"allowed_tools": ["whoami"]})
    assert [tool.name for tool in ActionTools().offered(conversation_id=0, widget_id=0)] == ["shop__whoami"]


def test_a_server_whose_tools_need_a_confirmation_offers_them_saying_so(ws, mcp):
    _server(mcp, requires_confirmation=True, allowed_tools=["refund"])
    [offered] = ActionTools().offered(conversation_id=0, widget_id=0)
    assert offered.name == "shop__refund"
    assert offered.description.startswith("Refund an order.") and "visitor confirms" in offered.description


def test_a_refresh_records_which_allowed_tools_changed_their_words(ws, mcp):
    """Allowing a tool approves what the model reads of it: a refresh that brings other
    words or inputs for an allowed tool says so in the audit log."""
    server = _server(mcp, allowed_tools=["order_status"])
    tools = [dict(t) for t in server.tools]
    for tool in tools:
        if tool["name"] in ("order_status", "refund"):
            tool["description"] = "Words from before."
    McpServer.objects.filter(pk=server.pk).update(tools=tools)
    server.refresh_from_db()
    services.mcp_tools_refresh(server=server)
    event = AuditEvent.objects.filter(action="mcp_server.tools_refreshed").order_by("-id").first()
    assert event.metadata["changed"] == ["order_status"]  # refund changed too, but is not allowed
    services.mcp_tools_refresh(server=server)
    event = AuditEvent.objects.filter(action="mcp_server.tools_refreshed").order_by("-id").first()
    assert event.metadata["changed"] == []


def test_names_for_the_model_stay_within_the_providers_rule():
    assert services.offered_name("shop", "order_status") == "shop__order_status"
    odd = services.offered_name("shop", "orders/get.status")
    long = services.offered_name("shop", "x" * 128)
    assert odd.startswith("shop__orders_get_status_") and len(long) == 64
    assert odd != services.offered_name("shop", "orders.get/status")  # never the same name twice
    assert all(c.isalnum() or c in "_-" for c in odd + long)


@pytest.fixture
def ada(tenant_a, fake_llm):  # noqa: F811 - the shared fixture
    return make_visitor(tenant_a)


@pytest.mark.parametrize("api", ["anthropic", "openai"])
def test_the_model_calls_a_tool_and_answers_from_its_result(client, ada, mcp, fake_llm, settings, api):  # noqa: F811
    settings.LLM_PROVIDER = api
    with tenant_context(ada.tenant):
        server = _server(mcp)
    mcp.requests.clear()
    fake_llm.enqueue(
        Behaviour(tool_calls=[FakeToolCall("shop__order_status", {"order_id": "1042"})]),
        Behaviour(text="Order 1042 has shipped."),
    )
    answer = ada.send(client, "Where is my order 1042?").json()["answer"]
    assert answer["message"]["text"] == "Order 1042 has shipped."
    first, second = fake_llm.requests
    assert first.tool_names == ["shop__broken", "shop__order_status", "shop__slow", "shop__whoami"]  # by name
    [result] = second.tool_results
    assert result["content"] == "Order 1042 has shipped with DHL."
    called = [json.loads(seen.body) for seen in mcp.requests if _rpc(seen) == "tools/call"]
    assert [c["params"] for c in called] == [{"name": "order_status", "arguments": {"order_id": "1042"}}]
    with tenant_context(ada.tenant):
        call = ActionCall.objects.get(conversation=ada.conversation)
        note = Message.objects.get(conversation=ada.conversation, role=Message.Role.NOTE).text
    assert call.status == "succeeded" and call.mcp_server_id == server.pk and call.tool_name == "order_status"
    assert call.action_id is None and call.action_name == "shop__order_status"
    assert call.contact_id == ada.contact.pk and "shipped" in call.response_excerpt
    assert "MCP tool order_status" in note and "Succeeded" in note and '"order_id": "1042"' in note


@pytest.mark.parametrize("verified", [False, True])
def test_a_verified_only_server_is_refused_to_an_unverified_visitor(client, ada, mcp, fake_llm, verified):  # noqa: F811
    with tenant_context(ada.tenant):
        server = _server(mcp, audience="verified")
        # The visitor claims to be cust-42; only a signed claim makes the identity verified.
        Contact.objects.filter(pk=ada.contact.pk).update(external_id="cust-42", identity_verified=verified)
    mcp.requests.clear()
    fake_llm.enqueue(Behaviour(tool_calls=[FakeToolCall("shop__whoami", {})]), Behaviour(text="Done."))
    ada.send(client, "Who am I?")
    [result] = fake_llm.requests[1].tool_results
    if not verified:
        assert mcp.requests == [] and "sign" in result["content"]  # nothing sent at all
        with tenant_context(ada.tenant):
            assert ActionCall.objects.get(conversation=ada.conversation).status == "denied"
        return
    assert result["content"] == "visitor: cust-42"
    [sent] = [seen for seen in mcp.requests if _rpc(seen) == "tools/call"]
    with tenant_context(ada.tenant):
        key = mcp_server_signing_secret(server)
    verify = {"method": "POST", "url": mcp.url, "body": sent.body}
    assert signing.signature_verify(key, sent.headers, **verify) == "cust-42"
    assert sent.headers["x-chatbot-action"] == "whoami"
    forged = {**sent.headers, "x-chatbot-visitor-id": "cust-1"}  # another visitor's id: the signature fails
    assert signing.signature_verify(key, forged, **verify) is None


def test_a_tool_not_allowed_is_refused_even_when_the_model_names_it(client, ada, mcp, fake_llm):  # noqa: F811
    with tenant_context(ada.tenant):
        _server(mcp)
    mcp.requests.clear()
    fake_llm.enqueue(
        Behaviour(tool_calls=[FakeToolCall("shop__refund", {"order_id": "1"})]), Behaviour(text="No.")
    )
    ada.send(client, "Refund order 1")
    [result] = fake_llm.requests[1].tool_results
    assert "no tool named 'shop__refund'" in result["content"] and mcp.requests == []


def test_a_tool_not_allowed_is_never_called_by_the_service(ws, mcp, visitor):
    contact, conversation = visitor
    server = _server(mcp)
    mcp.requests.clear()
    outcome = services.mcp_tool_call(
        server=server, tool="refund", arguments={"order_id": "1"}, contact=contact, conversation=conversation
    )
    assert outcome.status == "denied" and mcp.requests == []
    assert outcome.call.error == "The tool is not one the workspace allows."


def test_a_visitor_calling_too_often_is_held_back_and_a_turned_off_server_is_not_called(
    ws, mcp, visitor, settings
):
    settings.ACTIONS_CALLS_PER_MINUTE = 1
    contact, conversation = visitor
    server = _server(mcp)
    mcp.requests.clear()
    statuses = [
        services.mcp_tool_call(
            server=server,
            tool="order_status",
            arguments={"order_id": "1"},
            contact=contact,
            conversation=conversation,
        ).status
        for _ in range(2)
    ]
    assert statuses == ["succeeded", "rate_limited"]
    assert len([seen for seen in mcp.requests if _rpc(seen) == "tools/call"]) == 1
    services.mcp_server_update(server=server, data={"is_enabled": False})
    mcp.requests.clear()
    outcome = services.mcp_tool_call(server=server, tool="whoami", arguments={}, contact=contact)
    assert outcome.status == "denied" and mcp.requests == []
    assert ActionTools().offered(conversation_id=0, widget_id=0) == []


def test_an_mcp_tool_call_counts_toward_the_plan_and_is_not_made_past_it(ws, mcp, visitor):
    contact, conversation = visitor
    server = _server(mcp)
    tenant = ws.tenant
    limit = plan_get(tenant.plan).action_calls
    period = tenant_period(tenant.pk)
    UsageCounter.objects.update_or_create(
        tenant=tenant, period=period, metric="action_calls", defaults={"value": limit - 1}
    )
    mcp.requests.clear()

    def call() -> str:
        return services.mcp_tool_call(
            server=server,
            tool="order_status",
            arguments={"order_id": "1"},
            contact=contact,
            conversation=conversation,
        ).status

    assert [call(), call()] == ["succeeded", "quota_exceeded"]
    assert len([seen for seen in mcp.requests if _rpc(seen) == "tools/call"]) == 1
    assert UsageCounter.objects.get(tenant=tenant, period=period, metric="action_calls").value == limit


def test_a_tool_error_is_told_and_does_not_pause_the_server(ws, mcp, visitor, settings):
    settings.ACTIONS_PAUSE_AFTER_FAILURES = 2
    contact, conversation = visitor
    server = _server(mcp)
    outcomes = [
        services.mcp_tool_call(
            server=server, tool="broken", arguments={}, contact=contact, conversation=conversation
        )
        for _ in range(3)
    ]
    assert [o.status for o in outcomes] == ["failed"] * 3  # the tool's own error: never paused
    assert "the warehouse system is down" in outcomes[0].result and not outcomes[0].ok
    assert outcomes[0].call.http_status == 200


def test_inputs_that_fail_the_tools_schema_are_not_sent(ws, mcp, visitor):
    contact, conversation = visitor
    server = _server(mcp)
    mcp.requests.clear()
    outcome = services.mcp_tool_call(
        server=server,
        tool="order_status",
        arguments={"order_id": 12},
        contact=contact,
        conversation=conversation,
    )
    assert outcome.status == "invalid" and "order_id" in outcome.call.error and mcp.requests == []


def test_a_server_that_hangs_times_out_and_is_paused_after_failures(ws, mcp, visitor, settings):
    settings.ACTIONS_PAUSE_AFTER_FAILURES = 2
    contact, conversation = visitor
    server = _server(mcp, timeout_seconds=1)
    mcp.requests.clear()
    outcomes = [
        services.mcp_tool_call(
            server=server, tool="slow", arguments={}, contact=contact, conversation=conversation
        )
        for _ in range(3)
    ]
    assert [o.status for o in outcomes] == ["timed_out", "timed_out", "paused"]
    assert "did not answer in time" in outcomes[0].result
    calls = [seen for seen in mcp.requests if _rpc(seen) == "tools/call"]
    assert len(calls) == 2  # once each, never retried; nothing while paused


def test_a_server_answering_json_rather_than_a_stream(ws, visitor, settings):
    contact, conversation = visitor
    with McpTestServer(json_response=True) as mcp:
        settings.ACTIONS_PRIVATE_ALLOWLIST = [mcp.address]
        server = _server(mcp)
        outcome = services.mcp_tool_call(
            server=server,
            tool="order_status",
            arguments={"order_id": "7"},
            contact=contact,
            conversation=conversation,
        )
    assert outcome.status == "succeeded" and outcome.result == "Order 7 has shipped with DHL."


def test_a_refused_address_is_never_called(ws, visitor, settings):
    contact, conversation = visitor
    with McpTestServer() as mcp:  # its own port: no connection kept open from another test
        settings.ACTIONS_PRIVATE_ALLOWLIST = [mcp.address]
        server = services.mcp_server_create(
            data={"name": "shop", "url": mcp.url, "allowed_tools": ["order_status"]}, list_tools=False
        )
        McpServer.objects.filter(pk=server.pk).update(tools=[services.mcp._tool_read(ORDER_STATUS)])
        server.refresh_from_db()
        settings.ACTIONS_PRIVATE_ALLOWLIST = []  # the operator took the allowance back
        outcome = services.mcp_tool_call(
            server=server,
            tool="order_status",
            arguments={"order_id": "7"},
            contact=contact,
            conversation=conversation,
        )
        refreshed = services.mcp_tools_refresh(server=server)
    assert outcome.status == "refused" and mcp.requests == []
    assert "public internet" in refreshed.last_error and len(refreshed.tools) == 1  # the old list stays


# --- a server that is not a good MCP server (a scripted local endpoint) ---------------------

INITIALIZED = json.dumps(
    {
        "jsonrpc": "2.0",
        "id": 1,
        "result": {"protocolVersion": "2025-03-26", "capabilities": {}, "serverInfo": {}},
    }
).encode()
ORDER_STATUS = {
    "name": "order_status",
    "inputSchema": {
        "type": "object",
        "properties": {"order_id": {"type": "string"}},
        "required": ["order_id"],
    },
}
TOOL = {"name": "lookup", "description": "Look up.", "inputSchema": {"type": "object", "properties": {}}}


def _scripted(endpoint, *answers, tools=True) -> McpServer:
    endpoint.answers = list(answers)
    server = services.mcp_server_create(
        data={"name": "odd", "url": endpoint.url + "/mcp", "allowed_tools": ["lookup"]}, list_tools=False
    )
    if tools:
        McpServer.objects.filter(pk=server.pk).update(tools=[{**services.mcp._tool_read(TOOL)}])
        server.refresh_from_db()
    return server


@pytest.mark.parametrize(
    ("answer", "status", "error"),
    [
        (Answer(body=b"<html>Welcome</html>", content_type="text/html"), "unreadable", "neither JSON"),
        (Answer(body=b'{"jsonrpc": "2.0", "id": 99, "result": {}}'), "unreadable", "not a JSON-RPC answer"),
        (
            Answer(body=b"data: {not json}\n\n", content_type="text/event-stream"),
            "unreadable",
            "not a JSON-RPC",
        ),
        (Answer(status=502, body=b"Bad gateway"), "failed", "HTTP 502"),
        (Answer(status=307, body=b"", headers={"Location": "http://10.0.0.5/mcp"}), "failed", "HTTP 307"),
        (
            Answer(body=b'{"jsonrpc": "2.0", "id": 2, "error": {"code": -32602, "message": "Unknown tool"}}'),
            "failed",
            "Unknown tool",
        ),
    ],
)
def test_a_server_answering_junk_or_errors_gives_a_clear_result(ws, endpoint, visitor, answer, status, error):
    contact, conversation = visitor
    server = _scripted(endpoint, Answer(body=INITIALIZED), Answer(status=202, body=b""), answer)
    outcome = services.mcp_tool_call(
        server=server, tool="lookup", arguments={}, contact=contact, conversation=conversation
    )
    assert outcome.status == status and error in outcome.call.error, outcome.call.error
    assert not outcome.ok and outcome.result.startswith(("Not done", "Unknown outcome"))
    assert len(endpoint.requests) == 3  # initialize, initialized, the call: no retry


def test_an_event_stream_left_open_is_read_up_to_the_answer(ws, endpoint, visitor):
    contact, _ = visitor
    called = b'{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"found it"}]}}'
    stream = b": ping\n\nevent: message\ndata: " + called + b"\n\n"
    server = _scripted(
        endpoint,
        Answer(body=INITIALIZED, headers={"Mcp-Session-Id": "s-123"}),
        Answer(status=202, body=b""),
        Answer(body=stream, content_type="text/event-stream", hold_open=True),  # never ends
    )
    outcome = services.mcp_tool_call(server=server, tool="lookup", arguments={}, contact=contact)
    assert outcome.status == "succeeded" and outcome.result == "found it"
    assert [r.method for r in endpoint.requests] == ["POST", "POST", "POST", "DELETE"]
    assert [r.headers.get("mcp-session-id") for r in endpoint.requests] == [None, "s-123", "s-123", "s-123"]


def test_a_session_the_server_forgot_is_not_retried(ws, endpoint, visitor):
    contact, _ = visitor
    server = _scripted(
        endpoint,
        Answer(body=INITIALIZED, headers={"Mcp-Session-Id": "s-123"}),
        Answer(status=202, body=b""),
        Answer(status=404, body=b"no such session"),
    )
    outcome = services.mcp_tool_call(server=server, tool="lookup", arguments={}, contact=contact)
    assert outcome.status == "failed" and "no longer knows the session" in outcome.call.error
    assert len([r for r in endpoint.requests if r.method == "POST"]) == 3  # no second initialize


def test_an_unknown_protocol_version_is_refused(ws, endpoint, visitor):
    contact, conversation = visitor
    future = INITIALIZED.replace(b"2025-03-26", b"2099-01-01")
    server = _scripted(endpoint, Answer(body=future))
    outcome = services.mcp_tool_call(
        server=server, tool="lookup", arguments={}, contact=contact, conversation=conversation
    )
    assert (
        outcome.status == "unreadable" and "2099-01-01" in outcome.call.error and len(endpoint.requests) == 1
    )


def test_the_tool_list_is_read_page_by_page(ws, endpoint):
    def page(request_id, tools, cursor=None):
        result = {"tools": tools, **({"nextCursor": cursor} if cursor else {})}
        return Answer(body=json.dumps({"jsonrpc": "2.0", "id": request_id, "result": result}).encode())

    second = {**TOOL, "name": "second"}
    bad = {"name": "bad", "inputSchema": {"type": "string"}}
    server = _scripted(
        endpoint,
        Answer(body=INITIALIZED),
        Answer(status=202, body=b""),
        page(2, [TOOL], "p2"),
        page(3, [second, bad]),
        tools=False,
    )
    server = services.mcp_tools_refresh(server=server)
    assert [t["name"] for t in server.tools] == ["lookup", "second", "bad"] and server.last_error == ""
    assert server.tools[2]["problem"] and services.server_tool(server, "bad") is None
    bodies = [json.loads(r.body) for r in endpoint.requests]
    assert bodies[2]["params"] == {} and bodies[3]["params"] == {"cursor": "p2"}
    assert all(r.headers["mcp-protocol-version"] == "2025-03-26" for r in endpoint.requests[1:])


# --- the REST API ---------------------------------------------------------------------------


def test_the_api_creates_lists_tests_and_deletes_a_server(tenant_a, mcp):
    client = client_for(tenant_a)
    body = {
        "name": "shop",
        "url": mcp.url,
        "allowed_tools": ["order_status"],
        "headers": {"Authorization": "k-1"},
    }
    created = send(client, "post", BASE, body)
    assert created.status_code == 201, created.content
    server = created.json()
    assert server["secret"].startswith("acsec_") and server["header_names"] == ["Authorization"]
    assert "k-1" not in created.content.decode()
    tools = {tool["name"]: tool for tool in server["tools"]}
    assert (
        tools["order_status"]["allowed"] is True
        and tools["order_status"]["offered_as"] == "shop__order_status"
    )
    assert tools["refund"]["allowed"] is False
    assert mcp.requests[0].headers["authorization"] == "k-1"
    path = f"{BASE}/{server['id']}"
    tested = send(client, "post", path + "/test", {"tool": "order_status", "arguments": {"order_id": "5"}})
    assert tested.status_code == 200 and tested.json()["result"] == "Order 5 has shipped with DHL."
    assert tested.json()["called_by"] == "test" and tested.json()["tool_name"] == "order_status"
    refused = send(client, "post", path + "/test", {"tool": "refund", "arguments": {"order_id": "5"}})
    assert refused.status_code == 422 and refused.json()["errors"]["tool"][0]["code"] == "not_allowed"
    assert [c["status"] for c in send(client, "get", path + "/calls").json()["results"]] == ["succeeded"]
    assert send(client, "post", path + "/refresh").json()["last_error"] == ""
    assert send(client, "get", path + "/secret").json()["secret"] == server["secret"]
    rotated = send(client, "post", path + "/rotate-secret").json()["secret"]
    assert rotated != server["secret"] and send(client, "get", path + "/secret").json()["secret"] == rotated
    assert send(client, "patch", path, {"enabled": False}).json()["enabled"] is False
    assert [s["name"] for s in send(client, "get", BASE).json()["results"]] == ["shop"]
    assert send(client, "delete", path).status_code == 204
    with tenant_context(tenant_a.tenant):
        actions = list(
            AuditEvent.objects.filter(action__startswith="mcp_server.")
            .order_by("id")
            .values_list("action", flat=True)
        )
    assert actions == [
        "mcp_server.created",
        "mcp_server.tools_refreshed",
        "mcp_server.tools_refreshed",
        "mcp_server.secret_rotated",
        "mcp_server.updated",
        "mcp_server.deleted",
    ]


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"name": "Shop Two"}, "name", "invalid"),
        ({"url": "http://mcp.example.com/mcp"}, "url", "not_https"),
        ({"url": "https://127.0.0.1:1/mcp"}, "url", "private_address"),
        ({"headers": {"Mcp-Session-Id": "x"}}, "headers", "reserved"),
        ({"headers": {"X-Chatbot-Visitor-Id": "cust-1"}}, "headers", "reserved"),
        ({"allowed_tools": ["two words"]}, "allowed_tools", "invalid"),
        ({"timeout_seconds": 99}, "timeout_seconds", None),
    ],
)
def test_the_api_refuses_what_is_not_valid(tenant_a, fields, field, code, monkeypatch):
    FakeDNS().install(monkeypatch).answer("mcp.example.com", [PUBLIC_V4])
    client = client_for(tenant_a)
    refused = send(client, "post", BASE, {"name": "shop", "url": "https://mcp.example.com/mcp", **fields})
    assert refused.status_code == 422 and set(refused.json()["errors"]) == {field}, refused.content
    if code:
        assert refused.json()["errors"][field][0]["code"] == code


def test_the_api_is_for_managers_only(tenant_a):
    client = client_for(tenant_a, "agent")
    assert send(client, "get", BASE).status_code == 403


@pytest.fixture
def endpoint(settings):
    with ActionEndpoint() as server:
        settings.ACTIONS_PRIVATE_ALLOWLIST = [server.address]
        yield server


# --- the visitor's confirmation -------------------------------------------------------------

REFUND = FakeToolCall("shop__refund", {"order_id": "1042"})


def _refund_server(mcp, **fields) -> McpServer:
    return _server(mcp, title="Acme shop", requires_confirmation=True, allowed_tools=["refund"], **fields)


def _refund_asked(client, ada, mcp, fake_llm) -> dict:  # noqa: F811
    """The model asks for a refund of order 1042: the answer ends with the card."""
    mcp.requests.clear()
    fake_llm.enqueue(Behaviour(chunks=["I can refund it."], tool_calls=[REFUND]))
    answer = ada.send(client, "Please refund order 1042").json()["answer"]
    assert _tool_calls(mcp) == [] and len(fake_llm.requests) == 1  # nothing called, no second round
    return answer["message"]["card"]


def _tool_calls(mcp) -> list[dict]:
    return [json.loads(seen.body)["params"] for seen in mcp.requests if _rpc(seen) == "tools/call"]


def _decide(client, ada, card: dict, decision: str):
    return ada.post(client, f"confirmations/{card['id']}/{decision}")


@pytest.mark.parametrize("api", ["anthropic", "openai"])
def test_a_confirmed_tool_runs_the_inputs_shown_once_and_the_answer_uses_its_result(
    client,
    ada,
    mcp,
    fake_llm,  # noqa: F811
    settings,
    api,
):
    settings.LLM_PROVIDER = api
    with tenant_context(ada.tenant):
        server = _refund_server(mcp)
    card = _refund_asked(client, ada, mcp, fake_llm)
    assert card["kind"] == "confirm" and card["state"] == "pending" and card["title"] == "Acme shop: Refund"
    assert card["summary"] == [{"label": "Order Id", "value": "1042"}]  # the schema's titles
    assert "tool" not in card

    fake_llm.enqueue(Behaviour(text="Done: order 1042 is refunded."))
    confirmed = _decide(client, ada, card, "confirm")
    assert confirmed.status_code == 200, confirmed.content
    body = confirmed.json()
    assert body["text"] == "Confirmed: Acme shop: Refund"
    assert body["answer"]["message"]["text"] == "Done: order 1042 is refunded."
    assert _tool_calls(mcp) == [{"name": "refund", "arguments": {"order_id": "1042"}}]
    [result] = fake_llm.requests[1].tool_results
    assert result["content"] == "Refunded 1042."
    assert "shop__refund" in json.dumps(fake_llm.requests[1].body["messages"])

    again = _decide(client, ada, card, "confirm")  # a replay
    assert again.status_code == 409 and again.json()["code"] == "confirmation_answered"
    assert len(_tool_calls(mcp)) == 1 and len(fake_llm.requests) == 2

    fake_llm.enqueue(Behaviour(text="It takes a few days."))
    ada.send(client, "When do I get the money?")
    [kept] = fake_llm.requests[2].tool_results  # the history keeps the call and its result
    assert kept["content"] == "Refunded 1042."

    with tenant_context(ada.tenant):
        pending = PendingCall.objects.select_related("call").get()
        notes = list(
            Message.objects.filter(conversation=ada.conversation, role="note").values_list("text", flat=True)
        )
    assert pending.mcp_server_id == server.pk and pending.tool_name == "refund" and pending.action_id is None
    assert pending.state == "confirmed" and pending.call.status == "succeeded"
    assert pending.call.mcp_server_id == server.pk and pending.call.arguments == {"order_id": "1042"}
    assert "MCP tool refund of Acme shop: waiting for the visitor's confirmation" in notes[0]
    assert "MCP tool refund of Acme shop (shop__refund): Succeeded" in notes[1]


def test_a_cancelled_tool_calls_nothing_and_logs_a_declined_call(client, ada, mcp, fake_llm):  # noqa: F811
    with tenant_context(ada.tenant):
        _refund_server(mcp)
    card = _refund_asked(client, ada, mcp, fake_llm)
    fake_llm.enqueue(Behaviour(text="OK, no refund."))
    answer = _decide(client, ada, card, "cancel").json()
    assert answer["text"] == "Cancelled: Acme shop: Refund"
    assert answer["answer"]["message"]["text"] == "OK, no refund."
    assert _tool_calls(mcp) == []
    [result] = fake_llm.requests[1].tool_results
    assert "declined" in result["content"]
    with tenant_context(ada.tenant):
        call = ActionCall.objects.get()
    assert call.status == "declined" and call.tool_name == "refund" and call.arguments == {"order_id": "1042"}


def test_the_verified_rule_is_checked_again_when_the_visitor_confirms_a_tool(client, ada, mcp, fake_llm):  # noqa: F811
    with tenant_context(ada.tenant):
        _refund_server(mcp, audience="verified")
        Contact.objects.filter(pk=ada.contact.pk).update(external_id="cust-42", identity_verified=True)
    card = _refund_asked(client, ada, mcp, fake_llm)
    with tenant_context(ada.tenant):  # signed out since
        Contact.objects.filter(pk=ada.contact.pk).update(identity_verified=False)
    fake_llm.enqueue(Behaviour(text="Please sign in first."))
    assert _decide(client, ada, card, "confirm").status_code == 200
    assert _tool_calls(mcp) == []
    with tenant_context(ada.tenant):
        assert ActionCall.objects.get().status == "denied"


@pytest.mark.parametrize(
    ("change", "status"), [("allow_list", "denied"), ("turned_off", "denied"), ("quota", "quota_exceeded")]
)
def test_a_confirmed_tool_is_held_to_the_rules_of_the_moment(client, ada, mcp, fake_llm, change, status):  # noqa: F811
    """Between the card and the click: the tool taken off the allow-list, the server
    turned off, the plan's calls used up: nothing is called."""
    with tenant_context(ada.tenant):
        server = _refund_server(mcp)
    card = _refund_asked(client, ada, mcp, fake_llm)
    with tenant_context(ada.tenant):
        if change == "allow_list":
            services.mcp_server_update(server=server, data={"allowed_tools": ["order_status"]})
        elif change == "turned_off":
            services.mcp_server_update(server=server, data={"is_enabled": False})
        else:
            tenant = ada.tenant
            UsageCounter.objects.update_or_create(
                tenant=tenant,
                period=tenant_period(tenant.pk),
                metric="action_calls",
                defaults={"value": plan_get(tenant.plan).action_calls},
            )
    fake_llm.enqueue(Behaviour(text="That is not possible right now."))
    assert _decide(client, ada, card, "confirm").status_code == 200
    assert _tool_calls(mcp) == []
    with tenant_context(ada.tenant):
        assert ActionCall.objects.get().status == status


def test_only_the_conversations_own_visitor_confirms_a_tool(client, ada, mcp, fake_llm, tenant_a):  # noqa: F811
    with tenant_context(ada.tenant):
        _refund_server(mcp)
    card = _refund_asked(client, ada, mcp, fake_llm)
    bob = make_visitor(tenant_a, email="bob@example.com")
    path = ada.path(f"confirmations/{card['id']}/confirm")
    assert client.post(path, {}, content_type="application/json", **bob.headers()).status_code == 404
    assert _decide(client, bob, card, "confirm").status_code == 404
    assert _tool_calls(mcp) == []


def test_a_pending_call_is_of_an_action_or_a_tool_never_both_nor_neither(ws, mcp, visitor):
    _contact, conversation = visitor
    server = _refund_server(mcp)
    action = services.action_create(data={"name": "order_cancel", "description": "Cancel.", "url": mcp.url})
    common = {"conversation": conversation, "kind": "confirm", "expires_at": "2030-01-01T00:00:00Z"}
    for fields in (
        {},
        {"action": action, "mcp_server": server, "tool_name": "refund"},
        {"mcp_server": server},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            PendingCall.objects.create(**common, **fields)
    PendingCall.objects.create(**common, mcp_server=server, tool_name="refund")
    PendingCall.objects.create(**common, action=action)


def test_a_stream_trickled_in_small_pieces_is_read_once_not_once_a_piece(monkeypatch):
    """A tenant's server sending its answer a few bytes at a time: each complete event is
    parsed once (re-reading everything per piece cost seconds of CPU for 64 KB)."""
    from actions import mcp_client

    parsed: list[int] = []
    real = mcp_client._messages_in_stream

    def counting(data: bytes) -> list:
        parsed.append(len(data))
        return real(data)

    monkeypatch.setattr(mcp_client, "_messages_in_stream", counting)
    stream = b"".join(b": keep-alive %d\r\n\r\n" % n for n in range(2000))
    stream += b'event: message\ndata: {"jsonrpc": "2.0", "id": 7, "result": {}}\n\n'
    enough = mcp_client._answer_scan(7)
    answered = [enough(stream[:end]) for end in range(8, len(stream) + 8, 8)]
    assert answered[-1] is True and not any(answered[:-2])
    assert sum(parsed) <= len(stream)  # every byte parsed at most once
