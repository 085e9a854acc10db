"""Network backends that connect only to addresses the rule accepted (httpcore2's plug-in
point under every httpx2 transport and connection).

httpcore2 hands a backend the host name and port of each new connection. These backends
resolve that name once (``host_addresses_checked``), refuse with :class:`UnsafeAddress`
unless every address passes the rule or the policy's allowance, and connect to one of
exactly those addresses (the first that answers). There is no second lookup, so a DNS
answer that changes between check and connect (rebinding) cannot move the connection.
The request keeps the real host name, so the Host header, TLS SNI and certificate checks
are for the name the tenant gave. Unix sockets are refused.

:class:`UnsafeAddress` is raised as it is, not as a connect error: an SDK would retry a
connect error, and the same address would only be refused again.
"""

from __future__ import annotations

import functools
import ssl
import time
from collections.abc import Iterable
from typing import Any

import anyio
import anyio.to_thread
import httpcore2

from .addresses import UnsafeAddress, host_addresses_checked
from .policy import PrivateAllowance

SocketOptions = Iterable[Any] | None


class PinnedSyncBackend(httpcore2.SyncBackend):
    """The sync backend. With ``deadline`` (a ``time.monotonic()`` value) every connect,
    read and write is also bounded by it: a slow drip of bytes cannot outlive it.
    ``connected_to`` is the address of the latest connection."""

    def __init__(self, policy: PrivateAllowance, *, deadline: float | None = None):
        self._policy = policy
        self._deadline = deadline
        self.connected_to: str | None = None

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: SocketOptions = None,
    ) -> httpcore2.NetworkStream:
        addresses = host_addresses_checked(host, port, policy=self._policy)
        error: Exception = httpcore2.ConnectError("no address")
        for address in addresses:
            try:
                stream = super().connect_tcp(
                    address,
                    port,
                    timeout=_bounded(timeout, self._deadline, httpcore2.ConnectTimeout),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore2.ConnectError as exc:
                error = exc
                continue
            self.connected_to = address
            return stream if self._deadline is None else DeadlineStream(stream, self._deadline)
        raise error

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: SocketOptions = None
    ) -> httpcore2.NetworkStream:
        raise UnsafeAddress("Unix sockets are not reachable.", code="bad_url", host=path)


class DeadlineStream(httpcore2.NetworkStream):
    """A stream whose every operation ends by the deadline, whatever timeout it is given."""

    def __init__(self, inner: httpcore2.NetworkStream, deadline: float):
        self._inner = inner
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout, self._deadline, httpcore2.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout, self._deadline, httpcore2.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore2.NetworkStream:
        timeout = _bounded(timeout, self._deadline, httpcore2.ConnectTimeout)
        return DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, timeout), self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


def _bounded(timeout: float | None, deadline: float | None, exc: type[Exception]) -> float | None:
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise exc("deadline passed")
    return remaining if timeout is None else min(timeout, remaining)


class PinnedAsyncBackend(httpcore2.AsyncNetworkBackend):
    """The async backend (asyncio or trio through anyio). The lookup runs in a worker thread
    and counts against the connect timeout."""

    def __init__(self, policy: PrivateAllowance):
        self._policy = policy
        self._inner = httpcore2.AnyIOBackend()
        self.connected_to: str | None = None

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: SocketOptions = None,
    ) -> httpcore2.AsyncNetworkStream:
        check = functools.partial(host_addresses_checked, host, port, policy=self._policy)
        try:
            with anyio.fail_after(timeout):
                addresses = await anyio.to_thread.run_sync(check, abandon_on_cancel=True)
        except TimeoutError as exc:
            raise httpcore2.ConnectTimeout(f"looking up {host} took too long") from exc
        error: Exception = httpcore2.ConnectError("no address")
        for address in addresses:
            try:
                stream = await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except httpcore2.ConnectError as exc:
                error = exc
                continue
            self.connected_to = address
            return stream
        raise error

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: SocketOptions = None
    ) -> httpcore2.AsyncNetworkStream:
        raise UnsafeAddress("Unix sockets are not reachable.", code="bad_url", host=path)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
