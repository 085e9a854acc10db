"""TENANT_LIMIT_SET_CALLS is on: the search path is set once per connection and schema
change. Every way PostgreSQL can silently revert a SET must make the next query set it
again, or a query would run in another tenant's schema."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from widget_builder.models import Widget

pytestmark = pytest.mark.django_db


def _names() -> set[str]:
    return set(Widget.objects.values_list("name", flat=True))


def test_the_setting_is_on(settings):
    assert settings.TENANT_LIMIT_SET_CALLS is True


def test_a_savepoint_rollback_does_not_leave_the_other_schema_active(tenant_a, tenant_b):
    connection.set_tenant(tenant_a.tenant)
    a_names = _names()
    assert all(n.startswith("MARKER-A") for n in a_names)
    try:
        with transaction.atomic():
            connection.set_tenant(tenant_b.tenant)
            assert all(n.startswith("MARKER-B") for n in _names())  # SET issued inside the savepoint
            raise RuntimeError
    except RuntimeError:
        pass
    # PostgreSQL reverted the SET with the savepoint (the session is back on A) while the
    # wrapper still names B: the next query must set B again, not run in A.
    assert connection.schema_name == tenant_b.schema
    assert all(n.startswith("MARKER-B") for n in _names())
    with connection.cursor() as cursor:
        cursor.execute("SHOW search_path")
        assert tenant_b.schema in cursor.fetchone()[0]


def test_switching_tenants_always_switches_the_path(tenant_a, tenant_b):
    for seeded in (tenant_a, tenant_b, tenant_a):
        connection.set_tenant(seeded.tenant)
        assert all(n.startswith(seeded.marker) for n in _names())
