"""TenantFactory's workspaces stand on copies of a migrated schema (tests/tenants/schema_copies.py):
the same schema as migrations make, made without running them."""

from __future__ import annotations

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from bench.scale_growth import schema_shape
from tenants.errors import SlugTaken
from tenants.models import SpareSchema
from tenants.services import provisioning
from tests.tenants.factories import TenantFactory
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db


def test_a_factory_workspace_is_a_copy_shaped_as_migrations_make_it(tenant_a, monkeypatch):
    def no_migrations(**kwargs):
        raise AssertionError("TenantFactory migrated a schema")

    monkeypatch.setattr(provisioning, "schema_create_migrated", no_migrations)
    tenant = TenantFactory(slug="copied-co")

    conn = connection.connection
    assert schema_shape(conn, tenant.schema_name) == schema_shape(conn, tenant_a.schema)
    assert not SpareSchema.objects.exists()  # the copy was claimed, no spare left behind
    with tenant_context(tenant):
        assert Widget.objects.count() == 1  # the workspace's defaults, made by provisioning


def test_a_copy_that_provisioning_refuses_is_dropped(tenant_a):
    schemas_before = _tenant_schemas()
    with pytest.raises(SlugTaken):
        TenantFactory(slug=tenant_a.tenant.slug)
    assert not SpareSchema.objects.exists()
    assert _tenant_schemas() == schemas_before


def _tenant_schemas() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 't\\_%%'")
        return {name for (name,) in cursor.fetchall()}
