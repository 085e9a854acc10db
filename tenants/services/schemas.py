"""Creating and dropping tenant schemas. DDL only ever runs on names of the generated
shape ``t_[a-z2-7]{16}``."""

from __future__ import annotations

from django.core.management import call_command

from saas.tenant_connection import connection

from ..models import TENANT_SCHEMA_RE


def _quote(schema_name: str) -> str:
    """Quote a generated tenant schema name; anything else is refused before any DDL."""
    if not TENANT_SCHEMA_RE.fullmatch(schema_name):
        raise ValueError(f"refusing to use schema name {schema_name!r}")
    return connection.ops.quote_name(schema_name)


def schema_create_migrated(*, schema_name: str) -> None:
    """Create ``schema_name`` and run every tenant migration in it.

    Precondition: called inside ``transaction.atomic``, so a failure leaves no half-built
    schema behind (PostgreSQL DDL is transactional) and django-tenants keeps the connection.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("schema_create_migrated must run inside transaction.atomic")
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {_quote(schema_name)}")
    call_command("migrate_schemas", tenant=True, schema_name=schema_name, interactive=False, verbosity=0)
    connection.set_schema_to_public()


def schema_drop(*, schema_name: str) -> None:
    """Drop ``schema_name`` and everything in it (a tenant's or a spare's)."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {_quote(schema_name)} CASCADE")
