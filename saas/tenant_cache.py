"""Dropping every cache entry of one schema (a deleted tenant leaves nothing behind), and
the versioned entries' invalidation (``cache_version_bump``).

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
from django.db import transaction
from django_tenants.utils import schema_context

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


def cache_version_bump(version_key: str, *, schema: str) -> None:
    """Bump a versioned cache entry's version in ``schema`` (keys carry the schema) now and
    again when the current transaction commits: a request that read the row just before the
    change commits writes its stale answer under the old version, where nobody looks."""
    cache = caches["default"]

    def bump() -> None:
        with schema_context(schema):
            if not cache.add(version_key, 1, timeout=None):
                try:
                    cache.incr(version_key)
                except ValueError:  # evicted between add and incr
                    cache.set(version_key, 1, timeout=None)

    bump()
    transaction.on_commit(bump)
