"""The widget row by its public key, cached for the widget API (every visitor call reads it).

Cached under a per-key version that every change of the widget bumps (its model's signals,
wired in ``WidgetBuilderConfig.ready``, at once and again when the transaction commits): a
request that read the row just before a change commits writes its stale copy under the old
version, where nobody looks any more (the pattern of ``tenants.selectors._cached_tenant``).
The cache key function adds the tenant's schema. Preconditions: the tenant's schema is
active.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

from saas.tenant_cache import cache_version_bump
from saas.tenant_connection import connection

from .models import Widget

_MISSING = 0  # cached for a key that has no widget (a brief negative entry)
_NEGATIVE_SECONDS = 30


def _keys(key: str) -> tuple[str, str]:
    return f"widget:version:{key}", f"widget:row:{key}"


def widget_for_key(key: str) -> Widget | None:
    """The widget with public ``key`` in the active schema, or None."""
    version_key, entry_key = _keys(key)
    entry = f"{entry_key}:{cache.get(version_key, 0)}"
    cached = cache.get(entry)
    if cached is not None:
        return cached or None
    widget = Widget.objects.filter(key=key).first()
    timeout = settings.WIDGET_SNAPSHOT_SECONDS if widget else _NEGATIVE_SECONDS
    cache.set(entry, widget or _MISSING, timeout=timeout)
    return widget


def widget_snapshot_forget(key: str) -> None:
    """Drop the cached row of ``key`` now and again when the current transaction commits
    (in the schema active now: the commit may come after the caller left it)."""
    cache_version_bump(_keys(key)[0], schema=connection.schema_name)
