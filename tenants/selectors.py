"""Reads for tenancy: host resolution (cached), per-tenant counts for platform staff, and
the team and API keys pages' lists."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count
from django_tenants.utils import get_public_schema_name, schema_context

from saas.tenant_cache import cache_version_bump

from .contributions import contributions
from .errors import slug_taken
from .models import ApiKey, Domain, Invitation, Membership, Tenant, WidgetRoute
from .slugs import slug_validate

_NEGATIVE_CACHE_SECONDS = 30


def slug_availability(value: str) -> str:
    """The normalized slug if it can be used now; raises SlugInvalid or SlugTaken otherwise.

    Advisory (signup's live check and form validation): provisioning checks again, and the
    unique constraints decide races.
    """
    slug = slug_validate(value)
    if (
        Tenant.objects.filter(slug=slug).exists()
        or Domain.objects.filter(domain=f"{slug}.{settings.BASE_DOMAIN}").exists()
    ):
        raise slug_taken()
    return slug


def widget_route_resolve(key: str) -> Tenant | None:
    """The tenant owning widget ``key`` (any status), or None."""
    if not key.startswith("wk_") or len(key) > 40:
        return None

    def load() -> Tenant | None:
        route = WidgetRoute.objects.select_related("tenant").filter(key=key).first()
        return route.tenant if route else None

    return _cached_tenant("widget", key, load)


def widget_route_cache_forget(key: str) -> None:
    _cache_forget("widget", key)


def _cache_keys(kind: str, ident: str) -> tuple[str, str]:
    return f"tenants:{kind}-version:{ident}", f"tenants:{kind}:v1:{ident}"


def _cached_tenant(kind: str, ident: str, load: Callable[[], Tenant | None]) -> Tenant | None:
    """A tenant lookup cached under a per-identifier version that every change bumps: a
    request that read the row just before a change commits writes its (now stale) answer
    under the old version, where nobody looks any more. Unknown identifiers are cached
    briefly too."""
    version_key, entry_key = _cache_keys(kind, ident)
    with schema_context(get_public_schema_name()):
        key = f"{entry_key}:{cache.get(version_key, 0)}"
        cached = cache.get(key)
        if cached is not None:
            return cached or None
        tenant = load()
        timeout = settings.TENANT_HOST_CACHE_SECONDS if tenant else _NEGATIVE_CACHE_SECONDS
        cache.set(key, tenant or False, timeout=timeout)
    return tenant


def _cache_forget(kind: str, ident: str) -> None:
    """Invalidate now and again when the current transaction commits."""
    cache_version_bump(_cache_keys(kind, ident)[0], schema=get_public_schema_name())


def tenant_resolve_host(host: str) -> Tenant | None:
    """The tenant serving ``host`` (any status), or None."""
    return _cached_tenant("host", host, lambda: Tenant.objects.filter(domains__domain=host).first())


def tenant_host_cache_forget(host: str) -> None:
    _cache_forget("host", host)


def tenant_routes_cache_forget(tenant: Tenant) -> None:
    """Forget every cached way of reaching ``tenant``: its hosts and its widget keys (after
    any change of status or provisioning)."""
    for domain in tenant.domains.values_list("domain", flat=True):
        tenant_host_cache_forget(domain)
    for key in tenant.widget_routes.values_list("key", flat=True):
        widget_route_cache_forget(key)


def tenant_usage_counts(tenants: Iterable[Tenant]) -> dict[int, dict[str, int | None]]:
    """Members (public schema) and each counted tenant table's row count, per tenant (the
    apps contribute their tables: ``tenants.contributions``).

    Two queries plus one for members whatever the number of tenants: the tables that
    exist are looked up first (a tenant still provisioning has none), then one
    ``UNION ALL`` counts them all. Missing tables count as None.
    """
    tenants = list(tenants)
    counted = contributions().counted_models
    result: dict[int, dict[str, int | None]] = {
        t.pk: {"members": 0, **dict.fromkeys(counted)} for t in tenants
    }
    if not tenants:
        return result
    for row in Membership.objects.filter(tenant__in=tenants).values("tenant_id").annotate(n=Count("id")):
        result[row["tenant_id"]]["members"] = row["n"]

    tables = {m._meta.db_table: label for label, m in counted.items()}
    by_schema = {t.schema_name: t.pk for t in tenants}
    if not tables:
        return result
    with connection.cursor() as cursor:
        # to_regclass is a catalogue-cache lookup; information_schema would scan every
        # tenant's tables and slow down as tenants are added.
        pairs = [(schema, table) for schema in by_schema for table in tables]
        cursor.execute(
            "SELECT s, t FROM unnest(%s::text[], %s::text[]) AS x(s, t) "
            "WHERE to_regclass(quote_ident(s) || '.' || quote_ident(t)) IS NOT NULL",
            [[p[0] for p in pairs], [p[1] for p in pairs]],
        )
        existing = cursor.fetchall()
        if not existing:
            return result
        quote = connection.ops.quote_name
        parts, params = [], []
        for schema, table in existing:
            parts.append(f"SELECT %s, %s, count(*) FROM {quote(schema)}.{quote(table)}")  # noqa: S608
            params += [schema, table]
        cursor.execute(" UNION ALL ".join(parts), params)
        for schema, table, n in cursor.fetchall():
            result[by_schema[schema]][tables[table]] = n
    return result


def team_overview(tenant: Tenant) -> dict[str, Any]:
    """The team page's lists: members (with their user, by address) and the invitations
    still pending (newest first); ``sole_owner``: the membership of the only owner, if
    there is one (its role and membership cannot be taken away: no controls are offered)."""
    members = list(Membership.objects.filter(tenant=tenant).select_related("user").order_by("user__email"))
    owners = [m for m in members if m.role == Membership.Role.OWNER]
    return {
        "members": members,
        "sole_owner": owners[0] if len(owners) == 1 else None,
        "invitations": list(
            Invitation.objects.filter(tenant=tenant, accepted_at__isnull=True, revoked_at__isnull=True)
            .select_related("invited_by")
            .order_by("-sent_at")
        ),
    }


def api_keys_active(tenant: Tenant) -> list[ApiKey]:
    """The tenant's keys that still work, newest first."""
    return list(ApiKey.objects.filter(tenant=tenant, revoked_at__isnull=True).select_related("created_by"))
