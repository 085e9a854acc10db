"""httpx2 transports over the pinned backends, for SDK clients that call a tenant's server.

httpx2's transports take no network backend, but the httpcore2 connection pool inside them
does: each transport here builds the same pool httpx2 would, over a pinned backend. A
client given a transport ignores proxy environment variables, so nothing resolves the
tenant's host name but the backend.
"""

from __future__ import annotations

import httpcore2
import httpx2

from .backends import PinnedAsyncBackend, PinnedSyncBackend
from .policy import PrivateAllowance

# The SDKs' own pool sizes (anthropic and openai DEFAULT_CONNECTION_LIMITS).
LIMITS = httpx2.Limits(max_connections=1000, max_keepalive_connections=100, keepalive_expiry=5.0)


class GuardedTransport(httpx2.HTTPTransport):
    """A sync transport whose every new connection goes through :class:`PinnedSyncBackend`."""

    def __init__(self, policy: PrivateAllowance, *, limits: httpx2.Limits = LIMITS):
        ssl_context = httpx2.create_ssl_context()
        super().__init__(verify=ssl_context, limits=limits)
        self.backend = PinnedSyncBackend(policy)
        # Replaces the pool httpx2 just made (it has opened nothing): the same pool, pinned.
        self._pool = httpcore2.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=self.backend,
        )


class GuardedAsyncTransport(httpx2.AsyncHTTPTransport):
    """An async transport whose every new connection goes through :class:`PinnedAsyncBackend`."""

    def __init__(self, policy: PrivateAllowance, *, limits: httpx2.Limits = LIMITS):
        ssl_context = httpx2.create_ssl_context()
        super().__init__(verify=ssl_context, limits=limits)
        self.backend = PinnedAsyncBackend(policy)
        # Replaces the pool httpx2 just made (it has opened nothing): the same pool, pinned.
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=self.backend,
        )
