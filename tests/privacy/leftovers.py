"""Where a marker string can remain after an erasure or a deletion: every text and JSON
column of a schema's tables, the schemas' names, the stored files (names and bytes) and the
cache (Redis keys and values, or the local-memory caches)."""

from __future__ import annotations

import os
from pathlib import Path

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.cache import caches
from django.db import connection

TEXT_TYPES = ("text", "character varying", "character", "json", "jsonb")


def body(response) -> bytes:
    """A streamed answer's bytes (its content is an async iterator, as under ASGI)."""

    async def read() -> bytes:
        return b"".join([piece async for piece in response.streaming_content])

    return async_to_sync(read)()


def tables_holding(schema: str, marker: str) -> list[str]:
    """``table.column`` of every text/JSON column of ``schema`` where ``marker`` appears."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = %s AND data_type = ANY(%s) "
            "AND table_name IN (SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = %s AND table_type = 'BASE TABLE')",
            [schema, list(TEXT_TYPES), schema],
        )
        columns = cursor.fetchall()
        found = []
        for table, column in columns:
            quoted = f'"{schema}"."{table}"'
            cursor.execute(
                f'SELECT 1 FROM {quoted} WHERE "{column}"::text LIKE %s LIMIT 1',
                [f"%{marker}%"],
            )
            if cursor.fetchone():
                found.append(f"{table}.{column}")
        return found


def schemas_named(fragment: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", [f"%{fragment}%"])
        return [row[0] for row in cursor.fetchall()]


def files_holding(marker: str, *, under: str = "") -> list[str]:
    """Stored files (local storage) whose path or bytes hold ``marker``."""
    root = Path(settings.MEDIA_ROOT) / under
    found = []
    needle = marker.encode()
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            if marker in str(path) or needle in path.read_bytes():
                found.append(str(path))
    return found


def cache_holding(*markers: str) -> list[str]:
    """Cache keys (Redis, or the local-memory caches) whose key or value holds a marker."""
    needles = [m.encode() for m in markers]
    found = []
    if settings.REDIS_URL:
        client = caches["default"]._cache.get_client(write=False)
        for key in client.scan_iter(match="*", count=1000):
            kind = client.type(key)
            value = client.get(key) if kind == b"string" else b""
            if any(n in key or n in (value or b"") for n in needles):
                found.append(key.decode(errors="replace"))
        return found
    for alias in ("default", "ratelimit"):
        store = caches[alias]._cache
        for key, value in store.items():
            if any(m in key for m in markers) or any(n in value for n in needles):
                found.append(key)
    return found
