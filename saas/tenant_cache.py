"""Dropping every cache entry of one schema (a deleted tenant leaves nothing behind), and
the versioned entries' invalidation (``cache_version_bump``).

Cache keys carry the schema as their first part (``django_tenants.cache.make_key``:
``<schema>:<prefix>:<version>:<key>``), so a schema's entries can be found by prefix.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Iterator, MutableMapping
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


def _forget(alias: str, pattern: str, wanted: Callable[[str], bool] | None = None) -> int:
    """Delete the entries of cache ``alias`` whose stored key matches the glob ``pattern``
    (and ``wanted``, when given); one scan. Returns how many went."""
    cache = caches[alias]  # the backend itself, not the module-level proxy
    if isinstance(cache, RedisCache):
        client = cast(_RedisInternals, cache)._cache.get_client(write=True)
        keys = [
            key
            for key in client.scan_iter(match=pattern, count=500)
            if wanted is None or wanted(key.decode(errors="replace"))
        ]
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
        return len(keys)
    if isinstance(cache, LocMemCache):
        locmem = cast(_LocMemInternals, cache)
        with locmem._lock:
            # LocMemCache keeps the keys as made (prefix and version included).
            names = [
                k for k in locmem._cache if fnmatch.fnmatchcase(k, pattern) and (wanted is None or wanted(k))
            ]
            for name in names:
                locmem._delete(name)
        return len(names)
    return 0


def cache_forget_schema(schema_name: str) -> int:
    """Delete the schema's cache entries; returns how many were found."""
    return _forget("default", f"{schema_name}:*")


def cache_forget_naming(identifiers: Iterable[str], *, schema_name: str | None = None) -> int:
    """Delete the cache entries whose key names one of ``identifiers`` as one of its
    ``:``-separated parts (a contact's public id, a widget's key, a host): among
    ``schema_name``'s entries (every schema's when None) and the rate-limit counters, which
    live outside the tenants' keyspace. One scan of each cache, whatever the number of
    identifiers: for erasures and deletions, never a request's path."""
    names = frozenset(i for i in identifiers if i)
    if not names:
        return 0

    def wanted(key: str) -> bool:
        return not names.isdisjoint(key.split(":"))

    # The counters' keys start with their cache's prefix (the same Redis holds the broker's).
    counters = f"{caches['ratelimit'].key_prefix}:*" if caches["ratelimit"].key_prefix else "*"
    return _forget("default", f"{schema_name}:*" if schema_name else "*", wanted) + _forget(
        "ratelimit", counters, wanted
    )


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
