"""Fixed-window rate limits counted in the cache (Redis when configured)."""

from __future__ import annotations

import time

from django.core.cache import cache
from django.http import HttpRequest

from saas.errors import RateLimited


def client_address(request: HttpRequest) -> str:
    # REMOTE_ADDR is the client's once uvicorn runs with --proxy-headers behind a trusted
    # proxy (docs/deployment.md); X-Forwarded-For is never read here.
    return request.META.get("REMOTE_ADDR", "unknown")


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
