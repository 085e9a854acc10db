"""tenants.selectors: the host -> tenant resolution is cached, and a stale answer written
after a change is never read."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from tenants.models import Tenant
from tenants.selectors import _cache_keys, tenant_host_cache_forget, tenant_resolve_host

pytestmark = pytest.mark.django_db


def test_a_stale_answer_written_after_a_change_is_never_read(tenant_a):
    from django.core.cache import cache

    version_key, entry_key = _cache_keys("host", tenant_a.host)
    assert tenant_resolve_host(tenant_a.host).status == "active"
    # A request read the row (active) just before a suspend committed ...
    version_seen = cache.get(version_key, 0)
    stale = tenant_resolve_host(tenant_a.host)
    Tenant.objects.filter(pk=tenant_a.tenant.pk).update(status="suspended")
    tenant_host_cache_forget(tenant_a.host)
    # ... and writes its stale answer after the invalidation:
    with schema_context("public"):
        cache.set(f"{entry_key}:{version_seen}", stale)
    assert tenant_resolve_host(tenant_a.host).status == "suspended"
