"""webhooks.apis, the REST resources of webhooks: endpoints (create with the secret, read,
change, enable and disable, delete), the secret and its rotation, a test event, the
deliveries with a resend; the roles of the dashboard's "API" section, another workspace's
ids, per-field refusals, pages, and the OpenAPI document."""

from __future__ import annotations

import json
import uuid

import pytest
from django.core.management import call_command
from django.test import Client
from django_tenants.utils import tenant_context
from standardwebhooks.webhooks import Webhook

from tests.tenants.factories import ApiKeyFactory, MembershipFactory
from tests.webhooks.conftest import attempt_all_due
from webhooks import services
from webhooks.models import Delivery, Endpoint

pytestmark = pytest.mark.django_db
BASE = "/api/v1/webhooks"
PROBLEM = "application/problem+json"


def client_for(tenant_a, who: str = "owner") -> Client:
    client = Client(HTTP_HOST=tenant_a.host)
    if who == "owner":
        client.force_login(tenant_a.owner)
    elif who in ("admin", "agent"):
        client.force_login(MembershipFactory(tenant=tenant_a.tenant, role=who).user)
    elif who.startswith("key:"):
        key = ApiKeyFactory(tenant=tenant_a.tenant, role=who.split(":")[1])
        client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {key.secret}"
    elif who == "stranger":
        client.force_login(MembershipFactory(role="owner").user)  # of another workspace
    return client


def send(client: Client, method: str, path: str, body=None):
    if method == "get":
        return client.get(path)
    return getattr(client, method)(path, json.dumps(body or {}), content_type="application/json")


def create(client, receiver, *types: str):
    body = {"url": receiver.url, "event_types": list(types or ["conversation.created"])}
    return send(client, "post", BASE, body)


def test_create_answers_the_secret_that_signs_the_events(tenant_a, receiver):
    client = client_for(tenant_a)
    created = create(client, receiver, "contact.updated", "conversation.created")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["enabled"] is True
    assert body["event_types"] == ["contact.updated", "conversation.created"]
    assert send(client, "get", f"{BASE}/{body['id']}/secret").json()["secret"] == body["secret"]
    sent = send(client, "post", f"{BASE}/{body['id']}/test")
    assert sent.status_code == 202 and sent.json()["type"] == "webhook.test"
    with tenant_context(tenant_a.tenant):
        [delivery] = attempt_all_due()
    assert delivery.status == Delivery.Status.SUCCEEDED
    [request] = receiver.requests
    Webhook(body["secret"]).verify(request.body, request.headers)  # the spec's own library
    assert json.loads(request.body)["id"] == sent.json()["event_id"]


def test_change_disable_enable_and_delete(tenant_a, receiver):
    client = client_for(tenant_a, "key:admin")
    endpoint_id = create(client, receiver).json()["id"]
    path = f"{BASE}/{endpoint_id}"
    changed = send(client, "patch", path, {"description": "CRM", "event_types": ["message.created"]})
    assert changed.status_code == 200, changed.content
    assert changed.json()["description"] == "CRM" and changed.json()["event_types"] == ["message.created"]
    assert changed.json()["url"] == receiver.url  # not sent: kept
    off = send(client, "patch", path, {"enabled": False}).json()
    assert off["enabled"] is False and off["disabled_reason"]
    refused = send(client, "post", f"{path}/test")
    assert refused.status_code == 409 and refused["Content-Type"] == PROBLEM
    assert send(client, "patch", path, {"enabled": True}).json()["enabled"] is True
    assert client.delete(path).status_code == 204
    assert send(client, "get", path).status_code == 404


def test_rotation_answers_the_new_secret_and_keeps_the_old_one_for_a_day(tenant_a, receiver):
    client = client_for(tenant_a)
    created = create(client, receiver).json()
    rotated = send(client, "post", f"{BASE}/{created['id']}/rotate-secret")
    assert rotated.status_code == 200
    assert rotated.json()["secret"] != created["secret"] and rotated.json()["previous_secret_expires_at"]
    send(client, "post", f"{BASE}/{created['id']}/test")
    with tenant_context(tenant_a.tenant):
        attempt_all_due()
    [request] = receiver.requests
    Webhook(created["secret"]).verify(request.body, request.headers)
    Webhook(rotated.json()["secret"]).verify(request.body, request.headers)


def test_deliveries_page_filter_detail_and_resend(tenant_a, receiver):
    client = client_for(tenant_a)
    endpoint_id = create(client, receiver).json()["id"]
    for _ in range(3):
        send(client, "post", f"{BASE}/{endpoint_id}/test")
    with tenant_context(tenant_a.tenant):
        attempt_all_due()
    path = f"{BASE}/{endpoint_id}/deliveries"
    seen, cursor = [], None
    while True:
        page = client.get(path, {"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        seen += [d["id"] for d in page["results"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 3 and seen == sorted(seen, reverse=True)
    failed = client.get(path, {"status": "failed"})
    assert failed.status_code == 200, failed.content
    assert failed.json()["results"] == []
    assert len(client.get(path, {"event_type": "webhook.test"}).json()["results"]) == 3
    detail = client.get(f"{path}/{seen[0]}").json()
    assert detail["status"] == "succeeded" and detail["response_status"] == 200
    assert detail["request_headers"]["webhook-id"] == detail["event_id"]
    assert json.loads(detail["request_body"])["id"] == detail["event_id"]
    again = send(client, "post", f"{path}/{seen[0]}/resend")
    assert again.status_code == 202 and again.json()["status"] == "pending"
    with tenant_context(tenant_a.tenant):
        attempt_all_due()
    assert [json.loads(r.body)["id"] for r in receiver.requests].count(detail["event_id"]) == 2  # same id


def test_bad_input_is_422_per_field(tenant_a, receiver):
    client = client_for(tenant_a)
    errors = send(client, "post", BASE, {"url": "", "event_types": ["nope"]}).json()["errors"]
    assert {key.split(".")[0] for key in errors} == {"url", "event_types"}  # "event_types.0": the item
    private = send(client, "post", BASE, {"url": "http://10.1.2.3/hook", "event_types": ["message.created"]})
    assert private.status_code == 422 and set(private.json()["errors"]) == {"url"}
    endpoint_id = create(client, receiver).json()["id"]
    assert send(client, "patch", f"{BASE}/{endpoint_id}", {"event_types": []}).status_code == 422
    assert client.get(BASE, {"limit": 0, "ordering": "size"}).status_code == 422


@pytest.mark.parametrize(
    ("who", "allowed"),
    [
        ("owner", True),
        ("admin", True),
        ("key:admin", True),
        ("agent", False),
        ("key:agent", False),
        ("stranger", None),
        ("anonymous", None),
    ],
)
def test_role_matrix(tenant_a, receiver, who, allowed):
    with tenant_context(tenant_a.tenant):
        endpoint = services.endpoint_create(url=receiver.url, event_types=["conversation.created"])
    client = client_for(tenant_a, who)
    calls = [
        ("get", BASE),
        ("get", f"{BASE}/event-types"),
        ("get", f"{BASE}/{endpoint.public_id}"),
        ("get", f"{BASE}/{endpoint.public_id}/secret"),
        ("get", f"{BASE}/{endpoint.public_id}/deliveries"),
        ("post", f"{BASE}/{endpoint.public_id}/test"),
    ]
    for method, path in calls:
        status = send(client, method, path).status_code
        if allowed:
            assert status in (200, 202), (path, status)
        elif allowed is False:
            assert status == 403, (path, status)
        else:
            assert status in (401, 404), (path, status)


def test_another_workspaces_endpoint_is_404(tenant_a, tenant_b, receiver):
    with tenant_context(tenant_b.tenant):
        theirs = services.endpoint_create(url=receiver.url, event_types=["conversation.created"])
    client = client_for(tenant_a)
    for path in (f"{BASE}/{theirs.public_id}", f"{BASE}/{theirs.public_id}/secret", f"{BASE}/{uuid.uuid4()}"):
        assert client.get(path).status_code == 404
    assert send(client, "post", f"{BASE}/{theirs.public_id}/rotate-secret").status_code == 404
    with tenant_context(tenant_b.tenant):
        assert Endpoint.objects.get(pk=theirs.pk).secret == theirs.secret


def test_event_types_lists_every_type(tenant_a):
    rows = client_for(tenant_a).get(f"{BASE}/event-types").json()
    assert {"message.created", "knowledge.source.failed", "contact.updated"} <= {r["type"] for r in rows}


def test_the_openapi_document_lists_the_webhook_endpoints(tenant_a, tmp_path):
    call_command(
        "spectacular",
        "--urlconf",
        "saas.urls_tenant",
        "--validate",
        "--fail-on-warn",
        "--file",
        str(tmp_path / "s.yml"),
    )
    schema = (
        Client(HTTP_HOST=tenant_a.host)
        .get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
        .json()
    )
    for path in (
        BASE,
        BASE + "/event-types",
        BASE + "/{endpoint_id}",
        BASE + "/{endpoint_id}/secret",
        BASE + "/{endpoint_id}/rotate-secret",
        BASE + "/{endpoint_id}/test",
        BASE + "/{endpoint_id}/deliveries",
        BASE + "/{endpoint_id}/deliveries/{delivery_id}",
        BASE + "/{endpoint_id}/deliveries/{delivery_id}/resend",
    ):
        assert path in schema["paths"], path
        for operation in schema["paths"][path].values():
            assert operation["tags"] == ["webhooks"]
