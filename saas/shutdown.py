"""Graceful shutdown of a web process (docs/deployment.md, "Graceful shutdown").

What uvicorn does on SIGTERM by itself (its ``Server.handle_exit``, installed with
``signal.signal`` around the whole of ``serve``): it stops accepting at once, closes idle
keep-alive connections, closes WebSockets with 1012 (service restart), lets responses still
being sent run for ``--timeout-graceful-shutdown`` seconds, cancels them after that, then
sends the ASGI lifespan shutdown. The application hears nothing before that last step,
which comes after the streams are gone: too late to tell a visitor's widget anything.

So at lifespan startup (inside uvicorn's ``capture_signals``, on the main thread) this
module puts its own SIGTERM handler in front of uvicorn's. On SIGTERM the process is
*draining*: ``/readyz`` answers 503 so a balancer that polls it stops sending. After
``SHUTDOWN_UNREADY_SECONDS`` (0 by default: under Kubernetes the pod's preStop sleep has
already let the endpoints go) it is *stopping*: uvicorn's handler runs (no new
connections), live-event streams end with a ``reconnect`` event, answers being written
finish and then say ``reconnect`` too. ``SHUTDOWN_GRACE_SECONDS`` after stopping, the
callbacks registered with :func:`at_grace_end` run (an answer still being written is
handed to a worker); uvicorn's own bound (scripts/web) is a few seconds longer, so it
only ever cuts what is already handed over.

The signal handler itself only flips flags and schedules the rest on the event loop
(``call_soon_threadsafe``): nothing that takes a lock runs inside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

SERVING, DRAINING, STOPPING = "serving", "draining", "stopping"

Handler = Callable[[int, FrameType | None], Any]


class _Process:
    """This process's shutdown state (one per process: the signal is the process's)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.state = SERVING
        self.stopped_at: float | None = None  # time.monotonic() when stopping began
        self.grace_over = False
        # Coroutines waiting for the stop, and what runs when the grace period is over,
        # each with the loop it belongs to.
        self.stop_waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = set()
        self.grace_callbacks: dict[int, tuple[asyncio.AbstractEventLoop, Callable[[], None]]] = {}
        self.next_id = 0


_process = _Process()


def state() -> str:
    return _process.state


def draining() -> bool:
    """SIGTERM was received: the process is being taken out of service (``/readyz``)."""
    return _process.state != SERVING


def stopping() -> bool:
    """The process no longer accepts connections: streams end with ``reconnect``."""
    return _process.state == STOPPING


def grace_seconds() -> float:
    return float(settings.SHUTDOWN_GRACE_SECONDS)


async def stop_requested() -> None:
    """Return once the process is stopping (at once if it is already)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[None] = loop.create_future()
    entry = (loop, future)
    with _process.lock:
        if _process.state == STOPPING:
            return
        _process.stop_waiters.add(entry)
    try:
        await future
    finally:
        with _process.lock:
            _process.stop_waiters.discard(entry)


def at_grace_end(callback: Callable[[], None]) -> Callable[[], None]:
    """Run ``callback`` on the calling loop when the grace period after the stop is over
    (at once, soon, if it already is). Returns the function that unregisters it."""
    loop = asyncio.get_running_loop()
    with _process.lock:
        if _process.grace_over:
            loop.call_soon(callback)
            return lambda: None
        key = _process.next_id
        _process.next_id += 1
        _process.grace_callbacks[key] = (loop, callback)

    def unregister() -> None:
        with _process.lock:
            _process.grace_callbacks.pop(key, None)

    return unregister


def drain_begin() -> bool:
    """Mark the process draining. False when it already was."""
    with _process.lock:
        if _process.state != SERVING:
            return False
        _process.state = DRAINING
    return True


def stop_begin(loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Mark the process stopping: wake what waits for it, and run the grace-end callbacks
    ``SHUTDOWN_GRACE_SECONDS`` later on ``loop`` (the server's; the caller's if None)."""
    with _process.lock:
        if _process.state == STOPPING:
            return
        _process.state = STOPPING
        _process.stopped_at = time.monotonic()
        waiters = list(_process.stop_waiters)
    for waiter_loop, future in waiters:
        _call_soon(waiter_loop, _resolve, future)
    timer_loop = loop or asyncio.get_running_loop()
    timer_loop.call_soon_threadsafe(timer_loop.call_later, grace_seconds(), grace_end)


def grace_end() -> None:
    """The grace period is over: run what was registered with :func:`at_grace_end`."""
    with _process.lock:
        _process.grace_over = True
        callbacks = list(_process.grace_callbacks.values())
        _process.grace_callbacks.clear()
    if callbacks:
        logger.warning("shutdown: grace period over, %d answer(s) still running handed on", len(callbacks))
    for loop, callback in callbacks:
        _call_soon(loop, callback)


def reset() -> None:
    """Back to serving (a test's process; a real one never comes back)."""
    global _process
    _process = _Process()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[..., None], *args: Any) -> None:
    with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits there any more
        loop.call_soon_threadsafe(callback, *args)


def install(loop: asyncio.AbstractEventLoop) -> bool:
    """Put the drain in front of the server's SIGTERM handler (chained: the server's still
    runs, after ``SHUTDOWN_UNREADY_SECONDS``). Only from the main thread, and only in
    front of a handler that is a function (uvicorn's): a server running in a thread, or
    one leaving SIGTERM at its default, keeps its own behaviour. True when installed."""
    if threading.current_thread() is not threading.main_thread():
        return False
    previous = signal.getsignal(signal.SIGTERM)
    if not callable(previous):
        return False

    def stop(signum: int) -> None:
        if stopping():
            return
        stop_begin(loop)
        logger.warning("shutdown: stopping; answers have %.0f s to finish", grace_seconds())
        previous(signum, None)

    def announce(signum: int) -> None:
        unready = float(settings.SHUTDOWN_UNREADY_SECONDS)
        logger.warning("shutdown: SIGTERM received, draining (readyz 503) for %.1f s", unready)
        loop.call_later(unready, stop, signum)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        # A second SIGTERM stops at once.
        loop.call_soon_threadsafe(announce if drain_begin() else stop, signum)

    signal.signal(signal.SIGTERM, on_sigterm)
    return True


async def lifespan(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    """The ASGI lifespan protocol (``ProtocolTypeRouter``'s ``"lifespan"``): installs the
    drain at startup."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            install(asyncio.get_running_loop())
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
