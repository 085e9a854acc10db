"""Fixed-window rate limits counted in the cache (Redis when configured)."""

from __future__ import annotations

import functools
import ipaddress
import time

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

from saas.errors import RateLimited

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_address(request: HttpRequest) -> str:
    """The address every limit counts by.

    ``REMOTE_ADDR`` (the direct peer), unless that peer is one of ``TRUSTED_PROXIES``:
    then ``X-Forwarded-For`` is read from the right, each proxy having appended the
    address it received from, skipping our own proxies' hops, and the first address that
    is not one of them is the client's. Entries further left came from the client and are
    not believed; malformed entries are ignored. With no trusted proxy (the default) the
    header is never read, so nobody can pick the address they are counted under.
    """
    peer = request.META.get("REMOTE_ADDR", "")
    trusted = _trusted_networks(tuple(settings.TRUSTED_PROXIES))
    peer_address = _parse_address(peer)
    if not trusted or peer_address is None or not _is_trusted(peer_address, trusted):
        return peer or "unknown"
    hops = [_parse_address(hop) for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    valid = [hop for hop in hops if hop is not None]
    for hop in reversed(valid):
        if not _is_trusted(hop, trusted):
            return str(hop)
    # Every hop is one of our proxies: the request started at the farthest of them.
    return str(valid[0]) if valid else str(peer_address)


@functools.cache
def _trusted_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    try:
        return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())
    except ValueError as error:
        message = f"TRUSTED_PROXIES: {error} (give IP addresses or CIDR networks)"
        raise ImproperlyConfigured(message) from error


def _parse_address(value: str) -> Address | None:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    # A proxy listening on IPv6 reports IPv4 clients as ::ffff:a.b.c.d.
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return mapped or address


def _is_trusted(address: Address, trusted: tuple[Network, ...]) -> bool:
    return any(address.version == network.version and address in network for network in trusted)


def _now() -> float:
    return time.time()


def rate_limit(request: HttpRequest, scope: str, *, limit: int, period_s: int, key: str | None = None) -> int:
    """Count one hit; return 0 if allowed, else the seconds to wait (for ``Retry-After``)."""
    now = _now()
    window = int(now // period_s)
    cache_key = f"ratelimit:{scope}:{key or client_address(request)}:{window}"
    if cache.add(cache_key, 1, timeout=period_s):
        return 0
    try:
        hits = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=period_s)
        return 0
    if hits <= limit:
        return 0
    return max(1, int((window + 1) * period_s - now))


def rate_limit_enforce(
    request: HttpRequest, scope: str, *, limit: int, period_s: int, key: str | None = None
) -> None:
    """``rate_limit`` for views that answer through the problem-details handler: raises
    ``RateLimited`` (429 with ``Retry-After``) when over the limit."""
    retry = rate_limit(request, scope, limit=limit, period_s=period_s, key=key)
    if retry:
        raise RateLimited(headers={"Retry-After": str(retry)})
