"""retention.apis: GET and PATCH /api/v1/retention (owners, admins, admin keys); the plan's
bound answered 422 ``retention_beyond_plan`` in problem details."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from audit.models import AuditEvent
from retention.models import RetentionPolicy
from tests.tenants.factories import ApiKeyFactory

from .conftest import plan_set

pytestmark = pytest.mark.django_db
URL = "/api/v1/retention"


def _patch(client, body):
    return client.patch(URL, json.dumps(body), content_type="application/json")


def test_read_and_change(owner, tenant_a):
    body = owner.get(URL).json()
    assert body["conversations_days"] == 30 and body["plan"] == "free" and body["plan_max_days"] == 30
    response = _patch(owner, {"attachments_days": 7})
    assert response.status_code == 200, response.content
    assert response.json()["attachments_days"] == 7 and response.json()["conversations_days"] == 30
    with tenant_context(tenant_a.tenant):
        assert RetentionPolicy.objects.get().attachments_days == 7
        assert AuditEvent.objects.get(action="retention.updated").actor_id == tenant_a.owner.pk


def test_beyond_the_plan_is_422_problem_details(owner, tenant_a):
    response = _patch(owner, {"conversations_days": None})
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "retention_beyond_plan" and problem["plan_max_days"] == 30
    assert problem["errors"]["conversations_days"][0]["code"] == "retention_beyond_plan"
    bad = _patch(owner, {"contacts_days": 0})
    assert bad.status_code == 422 and bad.json()["code"] == "validation_error"
    assert "contacts_days" in bad.json()["errors"]
    plan_set(tenant_a.tenant, "business")
    assert _patch(owner, {"conversations_days": None}).json()["conversations_days"] is None


def test_roles_and_keys(as_role, tenant_a):
    assert as_role("agent").get(URL).status_code == 403
    assert _patch(as_role("agent"), {"attachments_days": 7}).status_code == 403
    assert as_role("admin").get(URL).status_code == 200
    for role, status in (("agent", 403), ("admin", 200)):
        key = ApiKeyFactory(tenant=tenant_a.tenant, role=role)
        client = Client(HTTP_HOST=tenant_a.host, HTTP_AUTHORIZATION=f"Bearer {key.secret}")
        assert _patch(client, {"attachments_days": 14}).status_code == status
    with tenant_context(tenant_a.tenant):
        event = AuditEvent.objects.get(action="retention.updated")
        assert event.actor_kind == AuditEvent.ActorKind.API_KEY
