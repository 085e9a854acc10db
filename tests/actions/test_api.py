"""actions.apis, the REST resources of AI actions: create (with the secret; headers never
answered), read, change, turn off, delete, the secret and its rotation, the test runner and
the call log; the roles of the dashboard's "API" section, another workspace's ids, and
per-field refusals."""

from __future__ import annotations

import json

import pytest
from django_tenants.utils import tenant_context

from actions import signing
from actions.models import Action, ActionCall
from tests.fakes.action_endpoint import Answer
from tests.webhooks.test_api import client_for, send

from .conftest import ORDER_PARAMETERS, action_of

pytestmark = pytest.mark.django_db
BASE = "/api/v1/actions"


def _body(endpoint, **fields):
    return {
        "name": "order_cancel",
        "description": "Cancel an order of the visitor's.",
        "parameters": ORDER_PARAMETERS,
        "method": "POST",
        "url": endpoint.url + "/orders/{order_id}/cancel",
        "headers": {"Authorization": "Bearer shop-api-key-123"},
        "audience": "verified",
        **fields,
    }


def test_create_read_change_and_delete(tenant_a, endpoint):
    client = client_for(tenant_a)
    created = send(client, "post", BASE, _body(endpoint))
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["secret"].startswith("acsec_") and body["header_names"] == ["Authorization"]
    assert "shop-api-key-123" not in created.content.decode()
    assert body["title"] == "Order cancel" and body["enabled"] is True and body["audience"] == "verified"
    one = send(client, "get", f"{BASE}/{body['id']}").json()
    assert one["parameters"] == ORDER_PARAMETERS and "secret" not in one and "headers" not in one
    assert send(client, "get", f"{BASE}/{body['id']}/secret").json()["secret"] == body["secret"]
    changed = send(client, "patch", f"{BASE}/{body['id']}", {"enabled": False, "timeout_seconds": 5})
    assert changed.status_code == 200 and changed.json()["enabled"] is False
    assert changed.json()["timeout_seconds"] == 5 and changed.json()["header_names"] == ["Authorization"]
    rotated = send(client, "post", f"{BASE}/{body['id']}/rotate-secret").json()["secret"]
    assert rotated != body["secret"]
    assert [a["name"] for a in send(client, "get", BASE).json()["results"]] == ["order_cancel"]
    assert send(client, "delete", f"{BASE}/{body['id']}").status_code == 204
    assert send(client, "get", f"{BASE}/{body['id']}").status_code == 404


def test_the_test_runner_calls_the_endpoint_and_shows_what_came_back(tenant_a, endpoint):
    client = client_for(tenant_a)
    action = send(client, "post", BASE, _body(endpoint, response_fields=["order.status"])).json()
    endpoint.answers = [Answer(body=b'{"order": {"status": "cancelled", "id": "7"}}')]
    tested = send(
        client,
        "post",
        f"{BASE}/{action['id']}/test",
        {"arguments": {"order_id": "7"}, "visitor_id": "cust-9"},
    )
    assert tested.status_code == 200, tested.content
    call = tested.json()
    assert call["status"] == "succeeded" and call["called_by"] == "test" and call["http_status"] == 200
    assert json.loads(call["result"]) == {"order.status": "cancelled"}
    assert json.loads(call["response_excerpt"]) == {"order": {"status": "cancelled", "id": "7"}}
    [sent] = endpoint.requests
    assert (
        signing.signature_verify(
            action["secret"], sent.headers, method="POST", url=endpoint.url + sent.path, body=sent.body
        )
        == "cust-9"
    )
    # Without a visitor id, a verified-only action refuses, as it would for an anonymous visitor.
    refused = send(client, "post", f"{BASE}/{action['id']}/test", {"arguments": {"order_id": "7"}}).json()
    assert refused["status"] == "denied" and len(endpoint.requests) == 1
    invalid = send(
        client, "post", f"{BASE}/{action['id']}/test", {"arguments": {"order_id": "x"}, "visitor_id": "c"}
    )
    assert invalid.json()["status"] == "invalid"
    log = send(client, "get", f"{BASE}/{action['id']}/calls").json()["results"]
    assert [c["status"] for c in log] == ["invalid", "denied", "succeeded"]
    only = send(client, "get", f"{BASE}/{action['id']}/calls?status=succeeded").json()["results"]
    assert [c["id"] for c in only] == [call["id"]]


def test_bad_input_is_422_per_field(tenant_a, endpoint):
    client = client_for(tenant_a)
    errors = send(client, "post", BASE, _body(endpoint, name="two words", timeout_seconds=99)).json()[
        "errors"
    ]
    assert set(errors) == {"timeout_seconds"}  # the serializer's own bounds first
    refused = send(client, "post", BASE, _body(endpoint, name="two words"))
    assert refused.status_code == 422 and set(refused.json()["errors"]) == {"name"}
    private = send(client, "post", BASE, _body(endpoint, url="https://10.1.2.3/x"))
    assert private.status_code == 422 and private.json()["errors"]["url"][0]["code"] == "private_address"
    schema = send(
        client, "post", BASE, _body(endpoint, parameters={"type": "object", "required": "order_id"})
    )
    assert schema.status_code == 422 and set(schema.json()["errors"]) == {"parameters"}
    assert send(client, "post", BASE, {"name": 5}).status_code == 422
    action_id = send(client, "post", BASE, _body(endpoint)).json()["id"]
    assert send(client, "patch", f"{BASE}/{action_id}", {"headers": {"Host": "x"}}).status_code == 422
    assert send(client, "post", f"{BASE}/{action_id}/test", {}).status_code == 422
    assert client.get(BASE, {"ordering": "size"}).status_code == 422


@pytest.mark.parametrize(
    ("who", "allowed"),
    [("owner", True), ("admin", True), ("key:admin", True), ("agent", False), ("key:agent", False),
     ("stranger", None), ("anonymous", None)],
)  # fmt: skip
def test_role_matrix(tenant_a, endpoint, who, allowed):
    with tenant_context(tenant_a.tenant):
        action = action_of(endpoint)
    client = client_for(tenant_a, who)
    for method, path in [
        ("get", BASE),
        ("get", f"{BASE}/{action.public_id}"),
        ("get", f"{BASE}/{action.public_id}/secret"),
        ("get", f"{BASE}/{action.public_id}/calls"),
    ]:
        status = send(client, method, path).status_code
        if allowed:
            assert status == 200, (path, status)
        elif allowed is False:
            assert status == 403, (path, status)
        else:
            assert status in (401, 404), (path, status)


def test_another_workspace_s_action_is_not_found(tenant_a, tenant_b, endpoint):
    with tenant_context(tenant_a.tenant):
        action = action_of(endpoint)
    client = client_for(tenant_b)
    assert send(client, "get", f"{BASE}/{action.public_id}").status_code == 404
    assert (
        send(client, "post", f"{BASE}/{action.public_id}/test", {"arguments": {"order_id": "1"}}).status_code
        == 404
    )
    assert endpoint.requests == []
    with tenant_context(tenant_a.tenant):
        assert Action.objects.filter(pk=action.pk).exists() and not ActionCall.objects.exists()


def test_the_test_runner_is_rate_limited_per_workspace(tenant_a, endpoint, monkeypatch):
    monkeypatch.setattr("actions.apis.TESTS_PER_MINUTE", 2)
    client = client_for(tenant_a)
    action = send(client, "post", BASE, _body(endpoint, audience="anyone")).json()
    codes = [
        send(client, "post", f"{BASE}/{action['id']}/test", {"arguments": {"order_id": "1"}}).status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429] and len(endpoint.requests) == 2


def test_trigger_phrases_are_set_read_and_checked(tenant_a, endpoint):
    client = client_for(tenant_a)
    body = _body(endpoint, trigger_phrases=["Cancel my order", "  cancel   MY order ", "stornieren"])
    created = send(client, "post", BASE, body)
    assert created.status_code == 201, created.content
    assert created.json()["trigger_phrases"] == ["Cancel my order", "stornieren"]  # once, spaces tidied
    path = f"{BASE}/{created.json()['id']}"
    assert send(client, "get", path).json()["trigger_phrases"] == ["Cancel my order", "stornieren"]
    assert send(client, "patch", path, {"trigger_phrases": []}).json()["trigger_phrases"] == []
    refused = send(client, "patch", path, {"trigger_phrases": ["x"]})
    assert refused.status_code == 422 and "trigger_phrases" in refused.json()["errors"]
    too_many = send(client, "patch", path, {"trigger_phrases": [f"phrase {n}" for n in range(21)]})
    assert too_many.status_code == 422
