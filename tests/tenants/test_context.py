"""tenants.context: async code reads the schema it names (run_in_schema). Celery tasks:
tests/saas/test_celery.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django_tenants.utils import tenant_context

from tenants.context import run_in_schema
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db
BASE_DIR = Path(__file__).resolve().parents[2]


def _widget_names() -> list[str]:
    return sorted(Widget.objects.values_list("name", flat=True))


def test_async_code_reads_the_schema_it_names(tenant_a, tenant_b):
    async def scenario():
        # The event loop's thread sits in B; the sync work must still read A (and vice versa).
        return await asyncio.gather(
            run_in_schema(tenant_a.schema, _widget_names),
            run_in_schema(tenant_b.schema, _widget_names),
            run_in_schema(tenant_a.schema, _widget_names),
        )

    with tenant_context(tenant_b.tenant):
        a_names, b_names, a_again = async_to_sync(scenario)()
        assert connection.schema_name == tenant_b.schema  # the caller's schema is left alone
    assert a_names == a_again == ["MARKER-A-widget-0"]
    assert b_names == [f"MARKER-B-widget-{i}" for i in range(3)]
