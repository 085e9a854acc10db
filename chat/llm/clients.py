"""SDK clients are reused (their connection pools) per event loop: an async HTTP client
belongs to the loop it was created on."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable

_clients: OrderedDict[tuple, tuple[asyncio.AbstractEventLoop, object]] = OrderedDict()
_lock = threading.Lock()
MAX_CLIENTS = 64


def key_fingerprint(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()[:12]


def cached_client(kind: str, api_key: str, base_url: str, make: Callable[[], object]):
    loop = asyncio.get_running_loop()
    key = (id(loop), kind, hashlib.sha256(api_key.encode()).hexdigest(), base_url)
    with _lock:
        for stale in [k for k, (lp, _) in _clients.items() if lp.is_closed()]:
            del _clients[stale]
        hit = _clients.get(key)
        if hit is not None and hit[0] is loop:
            _clients.move_to_end(key)
            return hit[1]
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
