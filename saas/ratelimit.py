"""Fixed-window rate limits counted in the cache (Redis when configured).

Failing safe: while Redis is unreachable the cache backend (``saas.cache_backends``) counts
``add``/``incr`` in the process, so every limit still applies, per process (with N web
processes a client gets at most N times the limit), never "no limit"; the counts are added
to Redis's when it returns.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
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
    not believed. A hop our proxies wrote that is not an address (``unknown``, garbage) ends
    the walk at the proxy that reported it: skipping it would let the client's own entry
    behind it count. Hops may carry a port (``203.0.113.7:51234``, ``[2001:db8::7]:443``).
    With no trusted proxy (the default) the header is never read, so nobody can pick the
    address they are counted under.
    """
    peer = request.META.get("REMOTE_ADDR", "")
    trusted = _trusted_networks(tuple(settings.TRUSTED_PROXIES))
    peer_address = _parse_address(peer)
    if not trusted or peer_address is None or not _is_trusted(peer_address, trusted):
        return peer or "unknown"
    reporter = peer_address  # the nearest proxy of ours, whose word we are reading
    header = request.META.get("HTTP_X_FORWARDED_FOR", "")
    for raw in reversed(header.split(",")) if header.strip() else ():
        hop = _parse_address(_without_port(raw.strip()))
        if hop is None:
            return str(reporter)
        if not _is_trusted(hop, trusted):
            return str(hop)
        reporter = hop
    # Every hop is one of our proxies: the request started at the farthest of them.
    return str(reporter)


def _without_port(hop: str) -> str:
    """``a.b.c.d:port`` and ``[v6]:port`` without the port (a bare IPv6 has colons too)."""
    if hop.startswith("["):
        return hop[1:].split("]", 1)[0]
    if hop.count(":") == 1:
        return hop.split(":", 1)[0]
    return hop


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


@dataclass(frozen=True)
class RateState:
    """Where a caller stands after one hit: the limit, what is left of it in this window,
    the seconds until the window ends, and the seconds to wait when over it (else 0)."""

    limit: int
    remaining: int
    reset_s: int
    retry_after: int


def rate_limit_count(
    request: HttpRequest, scope: str, *, limit: int, period_s: int, key: str | None = None
) -> RateState:
    """Count one hit and say where the caller stands (``RateLimit-*`` headers)."""
    return _count(scope, key or client_address(request), limit=limit, period_s=period_s)


def rate_limit_hit(scope: str, *, key: str, limit: int, period_s: int) -> int:
    """``rate_limit`` for work outside a request (a visitor's tool call inside an answer):
    count one hit for ``key``; 0 if allowed, else the seconds to wait."""
    return _count(scope, key, limit=limit, period_s=period_s).retry_after


def _count(scope: str, key: str, *, limit: int, period_s: int) -> RateState:
    now = _now()
    window = int(now // period_s)
    reset_s = max(1, math.ceil((window + 1) * period_s - now))
    cache = caches["ratelimit"]  # not the tenant-prefixed default: one budget platform-wide
    cache_key = f"{scope}:{key}:{window}"
    hits = 1
    if not cache.add(cache_key, 1, timeout=period_s):
        try:
            hits = cache.incr(cache_key)
        except ValueError:  # expired between add and incr
            cache.set(cache_key, 1, timeout=period_s)
    over = hits > limit
    return RateState(limit, max(0, limit - hits), reset_s, reset_s if over else 0)


def rate_limit(request: HttpRequest, scope: str, *, limit: int, period_s: int, key: str | None = None) -> int:
    """Count one hit; return 0 if allowed, else the seconds to wait (for ``Retry-After``)."""
    return rate_limit_count(request, scope, limit=limit, period_s=period_s, key=key).retry_after


def rate_limit_enforce(
    request: HttpRequest, scope: str, *, limit: int, period_s: int, key: str | None = None
) -> None:
    """``rate_limit`` for views that answer through the problem-details handler: raises
    ``RateLimited`` (429 with ``Retry-After``) when over the limit."""
    retry = rate_limit(request, scope, limit=limit, period_s=period_s, key=key)
    if retry:
        raise RateLimited(headers={"Retry-After": str(retry)})
