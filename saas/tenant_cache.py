"""Dropping every cache entry of one schema (a deleted tenant leaves nothing behind).

Cache keys carry the schema as their first part (``django_tenants.cache.make_key``:
``<schema>:<prefix>:<version>:<key>``), so a schema's entries can be found by prefix.
"""

from __future__ import annotations

from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache


def cache_forget_schema(schema_name: str) -> int:
    """Delete the schema's cache entries; returns how many were found."""
    prefix = f"{schema_name}:"
    cache = caches["default"]  # the backend itself, not the module-level proxy
    if isinstance(cache, RedisCache):
        client = cache._cache.get_client(write=True)
        keys = list(client.scan_iter(match=prefix + "*", count=500))
        if keys:
            client.delete(*keys)
        return len(keys)
    if isinstance(cache, LocMemCache):
        with cache._lock:
            keys = [k for k in cache._cache if k.startswith(prefix)]
            for key in keys:
                cache._delete(key)
        return len(keys)
    return 0
