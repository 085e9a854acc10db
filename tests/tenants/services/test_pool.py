"""tenants.services.pool: spare, fully migrated schemas kept ready for signup, and tenants
stuck in provisioning reaped."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tenants import services
from tenants.models import SpareSchema, Tenant
from tests.tenants.factories import DomainFactory, TenantRowFactory, UserFactory

pytestmark = pytest.mark.django_db


def _table_exists(schema: str, table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [f'"{schema}".{table}'])
        return cursor.fetchone()[0] is not None


def test_tenants_stuck_in_provisioning_are_reaped():
    old = TenantRowFactory(slug="stuck-old", name="Old", created_at=timezone.now() - timedelta(hours=1))
    DomainFactory(domain="stuck-old.saas.test", tenant=old, is_primary=True)
    fresh = TenantRowFactory(slug="stuck-new", name="New")  # provisioning, recently

    assert services.tenant_provisioning_reap() == 1
    assert not Tenant.objects.filter(pk=old.pk).exists()
    assert Tenant.objects.filter(pk=fresh.pk).exists()
    assert services.tenant_provision(slug="stuck-old", name="Again", owner=UserFactory()).status == "active"


def test_pool_refill_creates_migrated_spares_up_to_the_target(seeded):
    SpareSchema.objects.all().delete()
    assert services.tenant_pool_refill(size=2) == 2
    assert services.tenant_pool_refill(size=2) == 0  # already full
    spares = list(SpareSchema.objects.values_list("schema_name", flat=True))
    assert len(spares) == 2
    for schema in spares:
        assert schema.startswith("t_") and len(schema) == 18
        assert _table_exists(schema, "widget_builder_widget")
        assert _table_exists(schema, "chat_conversation")
