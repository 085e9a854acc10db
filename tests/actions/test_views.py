"""actions.views, the dashboard's AI action pages: who may open what, the form through the
same services as the API (problems kept on the fields), the secret shown once, header
values never shown, the OpenAPI import's preview, the test runner against a local
endpoint, the call log, delete; every write audited."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from actions.models import Action, ActionCall
from audit.models import AuditEvent
from tests.fakes.action_endpoint import Answer
from tests.tenants.factories import MembershipFactory
from widget_builder.models import Widget

from .conftest import ORDER_PARAMETERS, action_of

pytestmark = pytest.mark.django_db
BASE = "/dashboard/actions/"


def client_as(tenant, role: str = "owner") -> Client:
    client = Client(HTTP_HOST=tenant.host)
    user = tenant.owner if role == "owner" else MembershipFactory(tenant=tenant.tenant, role=role).user
    client.force_login(user)
    return client


def form_data(endpoint, **fields) -> dict:
    return {
        "title": "Cancel an order",
        "name": "order_cancel",
        "description": "Cancel an order of the visitor's.",
        "method": "POST",
        "url": endpoint.url + "/orders/{order_id}/cancel",
        "parameters": json.dumps(ORDER_PARAMETERS),
        "new_headers": "Authorization: Bearer shop-api-key-123",
        "timeout_seconds": "10",
        "response_fields": "status\norder.id",
        "audience": "anyone",
        "is_enabled": "on",
        **fields,
    }


def _action(tenant) -> Action:
    with tenant_context(tenant.tenant):
        return Action.objects.get()


@pytest.mark.parametrize("role", ["admin", "agent"])
def test_agents_read_the_list_and_the_log_and_change_nothing(tenant_a, endpoint, role):
    with tenant_context(tenant_a.tenant):
        action = action_of(endpoint)
    client = client_as(tenant_a, role)
    listed = client.get(BASE)
    assert listed.status_code == 200 and "Order cancel" in listed.content.decode()
    assert client.get(BASE + "calls/").status_code == 200
    manager = role == "admin"
    assert ("New action" in listed.content.decode()) is manager
    for path in ("new/", "import/", f"{action.public_id}/", f"{action.public_id}/test/"):
        assert client.get(BASE + path).status_code == (200 if manager else 403), path
    deleted = client.post(BASE + f"{action.public_id}/", {"action": "delete"})
    assert deleted.status_code == (302 if manager else 403)


def test_the_empty_list_explains_actions_and_links_to_the_docs(tenant_a):
    page = client_as(tenant_a).get(BASE).content.decode()
    assert "No AI actions yet" in page and "#tag/actions" in page
    assert 'href="/dashboard/actions/"' in page  # the sidebar's entry


def test_create_keeps_the_problems_on_the_fields_then_shows_the_secret_once(tenant_a, endpoint):
    client = client_as(tenant_a)
    bad = client.post(BASE + "new/", form_data(endpoint, parameters='{"type": "object", "properties": 3}'))
    assert bad.status_code == 422
    form = bad.context["form"]
    assert "Not a valid JSON Schema" in form.errors["parameters"][0]
    assert form["description"].value() == "Cancel an order of the visitor's."  # what was typed stays
    broken = client.post(BASE + "new/", form_data(endpoint, parameters="{not json"))
    assert broken.status_code == 400 and "Not valid JSON" in broken.context["form"].errors["parameters"][0]
    not_https = client.post(BASE + "new/", form_data(endpoint, url="http://shop.example.com/x"))
    assert "https" in not_https.context["form"].errors["url"][0]

    created = client.post(BASE + "new/", form_data(endpoint))
    assert created.status_code == 200
    secret = created.context["secret"]
    assert secret.startswith("acsec_") and secret in created.content.decode()
    action = _action(tenant_a)
    assert action.response_fields == ["status", "order.id"] and action.title == "Cancel an order"
    edit = client.get(BASE + f"{action.public_id}/").content.decode()
    assert secret not in edit and "shop-api-key-123" not in edit  # shown once; values never
    assert "Authorization" in edit and "••••••" in edit
    with tenant_context(tenant_a.tenant):
        event = AuditEvent.objects.get(action="action.created")
    assert event.actor_id == tenant_a.owner.pk


def test_headers_are_kept_unless_replaced_or_removed(tenant_a, endpoint):
    with tenant_context(tenant_a.tenant):
        action = action_of(endpoint, headers={"Authorization": "Bearer one", "X-Shop": "7"})
        widget = Widget.objects.order_by("id").first()
    client = client_as(tenant_a)
    path = BASE + f"{action.public_id}/"
    keep_both = form_data(endpoint, action="update", keep_headers=["Authorization", "X-Shop"], new_headers="")
    keep_both["widgets"] = [str(widget.pk)]
    keep_both["title"] = "Renamed"
    assert client.post(path, keep_both).status_code == 302
    replaced = {**keep_both, "keep_headers": ["Authorization"], "new_headers": "Authorization: Bearer two"}
    assert client.post(path, replaced).status_code == 302
    with tenant_context(tenant_a.tenant):
        from actions.selectors import action_headers

        action.refresh_from_db()
        assert action.title == "Renamed" and action_headers(action) == {"Authorization": "Bearer two"}
        assert [w.pk for w in action.widgets.all()] == [widget.pk]
        changes = list(AuditEvent.objects.filter(action="action.updated").order_by("id"))
    assert changes[-1].metadata["headers"] == ["(hidden)", "(changed)"]


def test_rotate_shows_the_new_secret_once_and_delete_removes_it(tenant_a, endpoint):
    with tenant_context(tenant_a.tenant):
        action = action_of(endpoint)
    client = client_as(tenant_a)
    rotated = client.post(BASE + f"{action.public_id}/", {"action": "rotate"})
    assert rotated.status_code == 200 and rotated.context["secret"].startswith("acsec_")
    assert client.post(BASE + f"{action.public_id}/", {"action": "delete"}).status_code == 302
    with tenant_context(tenant_a.tenant):
        assert not Action.objects.exists()
        assert {"action.secret_rotated", "action.deleted"} <= set(
            AuditEvent.objects.values_list("action", flat=True)
        )


def _document(endpoint) -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Shop", "version": "1"},
        "servers": [{"url": endpoint.url + "/api"}],
        "paths": {
            "/orders/{order_id}": {
                "get": {
                    "operationId": "order_status",
                    "summary": "Where an order is",
                    "parameters": [
                        {"name": "order_id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                }
            },
            "/tickets/{ticket_id}": {"get": {"operationId": "ticket_get", "summary": "A ticket"}},
        },
    }


def test_the_import_previews_then_creates_the_chosen_operations(tenant_a, endpoint):
    client = client_as(tenant_a)
    document = json.dumps(_document(endpoint))
    preview = client.post(
        BASE + "import/", {"step": "preview", "document": document, "new_headers": "X-Key: k1"}
    )
    assert preview.status_code == 200
    rows = {row["name"]: row for row in preview.context["preview"]}
    assert rows["order_status"]["errors"] == {} and rows["order_status"]["method"] == "GET"
    assert "not one of the parameters" in rows["ticket_get"]["errors"]["url"][0]["message"]
    page = preview.content.decode()
    assert endpoint.url + "/api/orders/{order_id}" in page and "k1" not in page.replace("X-Key: k1", "")
    with tenant_context(tenant_a.tenant):
        assert not Action.objects.exists()  # a preview creates nothing
    made = client.post(
        BASE + "import/",
        {"step": "import", "document": document, "new_headers": "X-Key: k1", "operations": ["order_status"]},
    )
    assert made.status_code == 200 and made.context["created"][0]["secret"].startswith("acsec_")
    with tenant_context(tenant_a.tenant):
        from actions.selectors import action_headers

        assert [a.name for a in Action.objects.all()] == ["order_status"]
        assert action_headers(Action.objects.get()) == {"X-Key": "k1"}
    bad = client.post(BASE + "import/", {"step": "preview", "document": '{"openapi": "2.0"}'})
    assert bad.status_code == 422 and "OpenAPI 3" in bad.context["form"].errors["document"][0]


def test_the_test_runner_shows_the_request_masked_and_the_response(tenant_a, endpoint):
    with tenant_context(tenant_a.tenant):
        action = action_of(endpoint, response_fields=["status"])
    endpoint.answers = [Answer(body=b'{"status": "cancelled", "refund": 12}')]
    client = client_as(tenant_a)
    form = client.get(BASE + f"{action.public_id}/test/")
    assert {f.name for f in form.context["form"].input_fields()} == {"in_order_id", "in_reason", "in_notify"}
    ran = client.post(
        BASE + f"{action.public_id}/test/",
        {
            "mode": "fields",
            "in_order_id": "1042",
            "in_reason": "",
            "in_notify": "true",
            "visitor_id": "cust-9",
        },
    )
    assert ran.status_code == 200
    [called] = endpoint.requests
    assert called.path == "/orders/1042/cancel" and json.loads(called.body) == {"notify": True}
    assert called.headers["authorization"] == "Bearer shop-api-key-123"
    page = ran.content.decode()
    assert "shop-api-key-123" not in page and "Authorization: ••••••" in page
    assert "X-Chatbot-Signature: v1=" in page and "X-Chatbot-Visitor-Id: cust-9" in page
    assert "refund" in page  # the response's excerpt
    assert ran.context["result"]["call"].result == '{"status":"cancelled"}'  # what the model gets
    raw = client.post(BASE + f"{action.public_id}/test/", {"mode": "raw", "raw": '{"order_id": "x/y"}'})
    assert raw.context["result"]["call"].status == ActionCall.Status.INVALID and len(endpoint.requests) == 1
    broken = client.post(BASE + f"{action.public_id}/test/", {"mode": "raw", "raw": "{"})
    assert broken.status_code == 400 and broken.context["form"].errors["raw"]


def test_the_call_log_filters_by_action_and_status(tenant_a, endpoint):
    from actions import services

    with tenant_context(tenant_a.tenant):
        one = action_of(endpoint)
        two = action_of(endpoint, name="other")
        services.action_test(action=one, arguments={"order_id": "1"})
        services.action_test(action=two, arguments={"order_id": "bad"})
    client = client_as(tenant_a, "agent")
    every = client.get(BASE + "calls/").context["page"].object_list
    assert len(every) == 2
    only = client.get(BASE + "calls/", {"action": str(two.public_id)}).context["page"].object_list
    assert [c.action_name for c in only] == ["other"]
    failed = client.get(BASE + "calls/", {"status": "invalid"}).context["page"].object_list
    assert [c.action_name for c in failed] == ["other"]
    assert client.get(BASE + "calls/", {"status": "nope"}).status_code == 200


def test_the_list_shows_calls_and_failure_rate(tenant_a, endpoint, visitor):
    from actions import services

    contact, conversation = visitor
    action = action_of(endpoint)
    endpoint.answers = [Answer(), Answer(status=500)]
    for _ in range(2):
        services.action_call(
            action=action, arguments={"order_id": "1"}, contact=contact, conversation=conversation
        )
    page = client_as(tenant_a).get(BASE)
    [row] = page.context["action_rows"]
    assert row.calls_recent == 2 and row.failure_rate == 50 and row.last_status == "failed"
