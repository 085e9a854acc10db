"""The official SDK clients for LLM and embedding servers, set up in one place.

    anthropic_async_client(api_key=, base_url=, timeout=, tenant_named=)   reused per event loop
    openai_async_client(api_key=, base_url=, timeout=, tenant_named=)      reused per event loop
    openai_sync_client(api_key=, base_url=, timeout=, max_retries=, tenant_named=)
    loop_clients_close()         close the running loop's clients (a loop made for one call)

Every client: redirects are never followed (a server must not bounce us elsewhere), a
connect timeout of 5 s and the caller's overall timeout (the SDKs' default is 600 s).
``tenant_named`` clients connect through the guarded transport (``TENANT_ENDPOINTS``: only
checked public addresses unless LLM_ALLOW_PRIVATE_BASE_URLS); the operator's own endpoints
(ANTHROPIC_BASE_URL, OPENAI_BASE_URL, LLM_BASE_URL, or the providers' defaults) go through
the SDKs' usual transport, proxies from the environment included. The async clients retry
nothing (``chat.llm.resilience`` owns retries); the sync one takes ``max_retries``.

An async client belongs to the loop it was made on: the async clients are kept per loop,
endpoint, key and transport (their connection pools are reused), at most ``MAX_CLIENTS``.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

import anthropic
import httpx2
import openai

from .policy import TENANT_ENDPOINTS
from .transports import LIMITS, GuardedAsyncTransport, GuardedTransport

CONNECT_TIMEOUT = 5.0
MAX_CLIENTS = 64

Client = TypeVar("Client")
HTTPClient = TypeVar("HTTPClient", httpx2.Client, httpx2.AsyncClient)
_clients: OrderedDict[tuple[Any, ...], tuple[asyncio.AbstractEventLoop, Any]] = OrderedDict()
_lock = threading.Lock()


def _timeout(seconds: float) -> httpx2.Timeout:
    return httpx2.Timeout(seconds, connect=CONNECT_TIMEOUT)


def _http_client(sdk_client: type[HTTPClient], timeout: float, *, tenant_named: bool) -> HTTPClient:
    """The SDK's own httpx2 client class (its defaults), never following redirects; over the
    guarded transport for a tenant's server."""
    extra: dict[str, Any] = {}
    if tenant_named:
        is_async = issubclass(sdk_client, httpx2.AsyncClient)
        extra["transport"] = (GuardedAsyncTransport if is_async else GuardedTransport)(TENANT_ENDPOINTS)
    return sdk_client(follow_redirects=False, timeout=_timeout(timeout), limits=LIMITS, **extra)


def anthropic_async_client(
    *, api_key: str, base_url: str, timeout: float, tenant_named: bool
) -> anthropic.AsyncAnthropic:
    """The Anthropic client for the running event loop."""
    return _loop_client(
        ("anthropic", api_key, base_url, timeout, tenant_named),
        lambda: anthropic.AsyncAnthropic(
            api_key=api_key,
            base_url=base_url or None,
            max_retries=0,
            timeout=_timeout(timeout),
            http_client=_http_client(anthropic.DefaultAsyncHttpxClient, timeout, tenant_named=tenant_named),
        ),
    )


def openai_async_client(
    *, api_key: str, base_url: str, timeout: float, tenant_named: bool
) -> openai.AsyncOpenAI:
    """The OpenAI (or OpenAI-compatible) client for the running event loop."""
    return _loop_client(
        ("openai", api_key, base_url, timeout, tenant_named),
        lambda: openai.AsyncOpenAI(
            api_key=api_key or "unused",  # local servers often need none
            base_url=base_url or None,
            max_retries=0,
            timeout=_timeout(timeout),
            http_client=_http_client(openai.DefaultAsyncHttpxClient, timeout, tenant_named=tenant_named),
        ),
    )


def openai_sync_client(
    *, api_key: str, base_url: str, timeout: float, max_retries: int, tenant_named: bool
) -> openai.OpenAI:
    """A new sync OpenAI (or OpenAI-compatible) client; the caller keeps it."""
    return openai.OpenAI(
        api_key=api_key or "unused",  # local servers often need none
        base_url=base_url or None,
        max_retries=max_retries,
        timeout=_timeout(timeout),
        http_client=_http_client(openai.DefaultHttpxClient, timeout, tenant_named=tenant_named),
    )


def _loop_client(key: tuple[Any, ...], make: Callable[[], Client]) -> Client:
    loop = asyncio.get_running_loop()
    kind, api_key, *rest = key
    key = (id(loop), kind, hashlib.sha256(api_key.encode()).hexdigest(), *rest)
    with _lock:
        for stale in [k for k, (lp, _) in _clients.items() if lp.is_closed()]:
            del _clients[stale]
        hit = _clients.get(key)
        if hit is not None and hit[0] is loop:
            _clients.move_to_end(key)
            client: Client = hit[1]
            return client
        client = make()
        _clients[key] = (loop, client)
        while len(_clients) > MAX_CLIENTS:
            _clients.popitem(last=False)
        return client


async def loop_clients_close() -> None:
    """Close the clients of the running loop (a loop made for one call, then discarded)."""
    loop = asyncio.get_running_loop()
    with _lock:
        mine = [k for k, (lp, _) in _clients.items() if lp is loop]
        clients = [_clients.pop(k)[1] for k in mine]
    for client in clients:
        await client.close()
