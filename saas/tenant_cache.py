"""Dropping every cache entry of one schema (a deleted tenant leaves nothing behind).

Cache keys carry the schema as their first part (``django_tenants.cache.make_key``:
``<schema>:<prefix>:<version>:<key>``), so a schema's entries can be found by prefix.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from contextlib import AbstractContextManager
from typing import Any, Protocol, cast

from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache

# The backends' private parts this module relies on (Django's stubs leave them out).


class _RedisClient(Protocol):
    def scan_iter(self, *, match: str, count: int) -> Iterator[bytes]: ...

    def delete(self, *keys: bytes) -> int: ...


class _RedisCacheClient(Protocol):
    def get_client(self, key: str | None = None, *, write: bool = False) -> _RedisClient: ...


class _RedisInternals(Protocol):
    _cache: _RedisCacheClient


class _LocMemInternals(Protocol):
    _lock: AbstractContextManager[Any]
    _cache: MutableMapping[str, Any]

    def _delete(self, key: str) -> bool: ...


def cache_forget_schema(schema_name: str) -> int:
    """Delete the schema's cache entries; returns how many were found."""
    prefix = f"{schema_name}:"
    cache = caches["default"]  # the backend itself, not the module-level proxy
    if isinstance(cache, RedisCache):
        client = cast(_RedisInternals, cache)._cache.get_client(write=True)
        keys = list(client.scan_iter(match=prefix + "*", count=500))
        if keys:
            client.delete(*keys)
        return len(keys)
    if isinstance(cache, LocMemCache):
        locmem = cast(_LocMemInternals, cache)
        with locmem._lock:
            names = [k for k in locmem._cache if k.startswith(prefix)]
            for name in names:
                locmem._delete(name)
        return len(names)
    return 0
