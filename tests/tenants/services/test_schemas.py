"""tenants.services.schemas: DDL only ever touches schema names we generated."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_exists

from tenants import services

pytestmark = pytest.mark.django_db


def test_ddl_refuses_schema_names_we_did_not_generate():
    for name in ("public", "pg_catalog", 't_aaaaaaaaaaaaaaa"', "t_short", "T_AAAAAAAAAAAAAAAA"):
        with pytest.raises(ValueError, match="refusing"):
            services.schema_drop(schema_name=name)
    assert schema_exists("public")


def test_schema_drop_refuses_anything_but_a_tenant_schema():
    for name in ("public", "pg_catalog", "information_schema"):
        with pytest.raises(ValueError, match="refusing"):
            services.schema_drop(schema_name=name)
