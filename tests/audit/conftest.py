"""Fixtures of the audit log's tests: the events a test recorded (``log``), a member's
request, clients on tenant A's host signed in or holding an API key."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.test import Client, RequestFactory
from django_tenants.utils import tenant_context

from audit.models import AuditEvent
from tenants.models import Tenant
from tests.tenants.factories import ApiKeyFactory


@dataclass
class Log:
    """The events recorded in a tenant's log since the test started (the shared tenants
    were seeded with some)."""

    tenant: object
    mark: int

    def new(self) -> list[AuditEvent]:
        with tenant_context(self.tenant):
            return list(AuditEvent.objects.filter(pk__gt=self.mark).order_by("pk"))

    def one(self, action: str) -> AuditEvent:
        found = [e for e in self.new() if e.action == action]
        assert len(found) == 1, [(e.action, e.metadata) for e in self.new()]
        return found[0]


def log_of(tenant) -> Log:
    with tenant_context(tenant):
        last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    return Log(tenant, last or 0)


@pytest.fixture
def log(tenant_a) -> Log:
    return log_of(tenant_a.tenant)


@pytest.fixture
def member_request(tenant_a):
    """A request by tenant A's owner, as a dashboard page gets it."""
    request = RequestFactory().post("/", REMOTE_ADDR="203.0.113.7", HTTP_HOST=tenant_a.host)
    request.user = tenant_a.owner
    return request


@pytest.fixture
def owner_client(tenant_a) -> Client:
    client = Client(HTTP_HOST=tenant_a.host)
    client.force_login(tenant_a.owner, host=tenant_a.host)
    return client


@pytest.fixture
def admin_key(tenant_a):
    """An admin API key of tenant A (``.secret`` on it)."""
    return ApiKeyFactory(tenant=tenant_a.tenant, name="CI pipeline", role="admin")


@pytest.fixture
def seats(tenant_a, tenant_b):
    """Tenants A and B on the Business plan: room for more members than the Free plan's one."""
    Tenant.objects.filter(pk__in=[tenant_a.tenant.pk, tenant_b.tenant.pk]).update(plan="business")


def key_client(tenant, key) -> Client:
    return Client(HTTP_HOST=tenant.host, HTTP_AUTHORIZATION=f"Bearer {key.secret}")
