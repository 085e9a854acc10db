"""Spare schemas for ``TenantFactory``, copied from a migrated schema instead of migrated.

Migrating a tenant schema runs Django's migration executor in Python: seconds on a busy
machine, and the suite makes dozens of workspaces (each browser test its own). So
``TenantFactory`` puts a copy of a migrated schema in the spare pool just before it
provisions, and ``tenant_provision`` takes its fast path, claiming that spare, as a signup
does when the pool is full. Everything else a workspace gets (its rows, its domain, its
defaults) is made by the service as before.

The copy is ``pg_dump`` of the shared tenant A's schema, read once by the session's
``seeded`` fixture right after migrating it: its DDL and its ``django_migrations`` rows,
replayed under a new name (``bench/scale_growth.py`` grows its database the same way;
unlike django-tenants' ``clone_schema``, ``pg_dump`` writes every type as the catalogue
has it, ``vector(N)`` included). The first copy of the session is compared with tenant A
(every column, index, constraint and trigger, and the migrations recorded) before use.

Until ``seeded`` has run (a run of tests that never ask for the shared tenants), or when
the pool already holds a spare, nothing is copied: provisioning migrates or claims as
it would. Tests of provisioning itself call ``tenant_provision``: the migrations run there.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

from bench.scale_growth import pg_dump_command, schema_shape
from tenants.models import SpareSchema, new_schema_name


@dataclass
class _Template:
    schema: str
    sql: str
    checked: bool = False


_template: _Template | None = None


def _database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def _replayable(dump: str) -> str:
    """The dump's statements without its session settings (``SET``, ``set_config`` of the
    search path) and psql's meta-commands: they would outlive the copy on the test's
    connection, whose search path django-tenants manages."""
    kept = []
    for line in dump.splitlines():
        if line.startswith(("SET ", "\\")) or "pg_catalog.set_config(" in line:
            continue
        kept.append(line)
    return "\n".join(kept)


def template_prepare(schema: str) -> None:
    """Read ``schema`` (migrated and committed, with nothing of a test's transaction on it)
    as the SQL that makes it again: its DDL and the migrations it records."""
    global _template
    import subprocess

    common = [pg_dump_command(), "--no-owner", "--no-privileges", "--schema", schema, _database_url()]
    ddl = subprocess.run(
        [*common, "--schema-only"], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    rows = subprocess.run(
        [*common, "--data-only", "--inserts", "--table", f"{schema}.django_migrations"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    assert f"CREATE SCHEMA {schema};" in ddl, f"pg_dump did not dump {schema}"
    _template = _Template(schema=schema, sql=_replayable(ddl + rows))


def spare_schema_copy() -> str | None:
    """Put a copy of a migrated schema in the empty spare pool; its name, or None (nothing
    copied: the pool has a spare already, or there is no template)."""
    template = _template
    if template is None or SpareSchema.objects.exists():
        return None
    name = new_schema_name()
    with connection.cursor() as cursor:
        cursor.execute(template.sql.replace(template.schema, name))
    if not template.checked:
        copied, migrated = (
            schema_shape(connection.connection, name),
            schema_shape(connection.connection, template.schema),
        )
        if copied != migrated:
            differences = sorted(set(copied) ^ set(migrated))[:20]
            raise AssertionError(f"a copied schema differs from the migrated one: {differences}")
        template.checked = True
    SpareSchema.objects.create(schema_name=name)
    return name


def spare_schema_discard(name: str) -> None:
    """Drop a copy that provisioning did not claim (it failed before): no spare is left
    behind for the tests that count them."""
    if SpareSchema.objects.filter(schema_name=name).delete()[0]:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
