"""migrate_schemas skips schemas already at the latest migration and knows the pool."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from tenants import services
from tenants.management.commands.migrate_schemas import (
    expected_migrations,
    schemas_needing_migration,
    tenant_schema_names,
)
from tenants.models import SpareSchema
from tests.tenants.factories import TenantRowFactory

pytestmark = pytest.mark.django_db


def test_up_to_date_schemas_are_skipped(tenant_a, tenant_b):
    assert schemas_needing_migration([tenant_a.schema, tenant_b.schema], expected_migrations()) == []


def test_a_schema_missing_a_migration_is_migrated(tenant_a, tenant_b):
    with connection.cursor() as cursor:
        cursor.execute(
            f'DELETE FROM "{tenant_a.schema}".django_migrations WHERE app = %s AND name = %s',
            ["widget_builder", "0001_initial"],
        )
    assert schemas_needing_migration([tenant_a.schema, tenant_b.schema], expected_migrations()) == [
        tenant_a.schema
    ]


def test_a_schema_without_a_migrations_table_is_migrated():
    with connection.cursor() as cursor:
        cursor.execute('CREATE SCHEMA "t_emptyschema0001"')
    assert schemas_needing_migration(["t_emptyschema0001"], expected_migrations()) == ["t_emptyschema0001"]


def test_spare_schemas_are_included(seeded):
    SpareSchema.objects.all().delete()
    services.tenant_pool_refill(size=1)
    spare = SpareSchema.objects.get().schema_name
    assert spare in tenant_schema_names()


def test_noop_run_reports_and_migrates_nothing(tenant_a, tenant_b):
    out = StringIO()
    call_command("migrate_schemas", tenant=True, interactive=False, stdout=out)
    assert "0 to migrate" in out.getvalue()


def test_run_brings_a_lagging_schema_up_to_date(tenant_a, tenant_b):
    # Take tenant A's chat app back to zero with the stock command, as an old schema would be.
    call_command(
        "migrate_schemas", "chat", "zero", schema_name=tenant_a.schema, interactive=False, verbosity=0
    )
    connection.set_schema_to_public()
    assert schemas_needing_migration([tenant_a.schema, tenant_b.schema], expected_migrations()) == [
        tenant_a.schema
    ]
    out = StringIO()
    call_command("migrate_schemas", tenant=True, interactive=False, stdout=out, verbosity=1)
    assert "1 to migrate" in out.getvalue()
    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [f'"{tenant_a.schema}".chat_conversation'])
        assert cursor.fetchone()[0] is not None
    assert schemas_needing_migration([tenant_a.schema], expected_migrations()) == []


def test_migrate_schemas_skips_tenants_whose_schema_does_not_exist_yet(tenant_a):
    TenantRowFactory(slug="no-schema-yet", name="X")  # provisioning: no schema yet
    call_command("migrate_schemas", tenant=True, interactive=False, verbosity=0)  # does not raise
