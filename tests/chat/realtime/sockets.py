"""Driving the real ASGI application's sockets from a test, in this thread's event loop, so
the test's database transaction stays in use (as in tests/chat/visitors.py), and wake-ups
published "after commit" are delivered when the test says its writes are committed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from asgiref.testing import ApplicationCommunicator
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.test import TestCase
from django_tenants.utils import tenant_context

from tenants.sessions import session_bind
from tests.chat.visitors import ORIGIN
from tests.hosts import PUBLIC_HOST

FRAME_TIMEOUT = 5

# The sockets a scenario opened (``run_sockets``), all disconnected when it ends.
_opened: ContextVar[list[WebsocketCommunicator] | None] = ContextVar("opened_sockets", default=None)


class WebsocketCommunicator(ApplicationCommunicator):
    """A WebSocket client for an ASGI application, in this event loop (what Channels'
    testing module offers, without its live-server part, which needs daphne)."""

    def __init__(self, application, path: str, headers: list[tuple[bytes, bytes]]) -> None:
        opened = _opened.get()
        if opened is None:
            raise AssertionError("open sockets inside run_sockets(scenario): it disconnects them")
        opened.append(self)
        super().__init__(
            application,
            {
                "type": "websocket",
                "path": path,
                "raw_path": path.encode(),
                "query_string": b"",
                "headers": headers,
                "scheme": "ws",
                "subprotocols": [],
                "client": ("127.0.0.1", 5000),
                "server": ("127.0.0.1", 80),
            },
        )

    async def connect(self, timeout: float = FRAME_TIMEOUT) -> tuple[bool, int | None]:
        await self.send_input({"type": "websocket.connect"})
        response = await self.receive_output(timeout)
        if response["type"] == "websocket.close":
            return False, response.get("code", 1000)
        return True, response.get("subprotocol")

    async def send_json_to(self, data: Any) -> None:
        await self.send_input({"type": "websocket.receive", "text": json.dumps(data)})

    async def receive_json_from(self, timeout: float = FRAME_TIMEOUT) -> Any:
        """The next frame; a timeout raises but, unlike ``receive_output``, leaves the
        application running (a test may wait for nothing to come, then go on)."""
        if self.future.done():
            self.future.result()  # the application's own error, if it failed
        response = await asyncio.wait_for(self.output_queue.get(), timeout)
        assert response["type"] == "websocket.send", response
        return json.loads(response["text"])

    async def disconnect(self, code: int = 1000, timeout: float = FRAME_TIMEOUT) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": code})
        await self.wait(timeout)

    async def end(self) -> None:
        """Disconnect unless the application has ended. A socket the server closed is still
        running (Channels waits for the server's ``websocket.disconnect`` after a close);
        left so, the event loop's exit would cancel it, and cancelling a consumer that is
        inside a layer or database call can hang the loop's shutdown."""
        if self._future is None or self._future.done():
            return
        await self.disconnect()


def run_sockets(scenario: Callable[[], Awaitable[Any]]) -> Any:
    """Run an async scenario from a sync test (in a fresh event loop, the test's thread
    serving its database calls) and disconnect every socket it opened, whatever happened,
    before the loop ends."""

    async def guarded() -> Any:
        opened: list[WebsocketCommunicator] = []
        token = _opened.set(opened)
        try:
            return await scenario()
        finally:
            _opened.reset(token)
            errors = []
            for socket in reversed(opened):
                try:
                    await socket.end()
                except Exception as error:  # end the others first, then raise
                    errors.append(error)
            if errors:
                raise errors[0]

    return async_to_sync(guarded)()


def agent_session(user, tenant) -> str:
    """A session of ``user`` opened on ``tenant``'s host (bound to it), as a sign-in makes."""
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session_bind(session, tenant.schema_name)
    session.create()
    return session.session_key


def agent_socket(host: str, session_key: str | None, *, origin: str | None = None) -> WebsocketCommunicator:
    from saas.asgi import application

    headers = [(b"host", host.encode()), (b"origin", (origin or f"http://{host}").encode())]
    if session_key:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={session_key}".encode()))
    return WebsocketCommunicator(application, "/ws/agent/", headers=headers)


def visitor_socket(widget_key: str, *, origin: str = ORIGIN) -> WebsocketCommunicator:
    from saas.asgi import application

    headers = [(b"host", PUBLIC_HOST.encode()), (b"origin", origin.encode())]
    return WebsocketCommunicator(application, f"/ws/widget/v1/{widget_key}", headers=headers)


async def committed(tenant, fn: Callable[[], Any]) -> Any:
    """Run ``fn`` in the tenant's schema as if its transaction committed: the wake-ups it
    publishes "on commit" are sent (the test's own transaction is never committed)."""

    def run() -> Any:
        with tenant_context(tenant), TestCase.captureOnCommitCallbacks(execute=True):
            return fn()

    return await sync_to_async(run, thread_sensitive=True)()


async def frames(
    socket: WebsocketCommunicator, *, until: Callable[[dict], bool], limit: int = 50
) -> list[dict]:
    """Frames received until one satisfies ``until`` (included)."""
    seen: list[dict] = []
    for _ in range(limit):
        frame = await socket.receive_json_from(timeout=FRAME_TIMEOUT)
        seen.append(frame)
        if until(frame):
            return seen
    raise AssertionError(f"no frame matched among {seen}")


async def messages(socket: WebsocketCommunicator, count: int) -> list[dict]:
    got: list[dict] = []
    while len(got) < count:
        frame = await socket.receive_json_from(timeout=FRAME_TIMEOUT)
        if frame["type"] == "message":
            got.append(frame["message"])
    return got


async def nothing_more(socket: WebsocketCommunicator, *, kind: str = "message") -> None:
    """No frame of ``kind`` arrives within a short wait (other kinds are ignored)."""
    try:
        while True:
            frame = await socket.receive_json_from(timeout=0.3)
            assert frame["type"] != kind, frame
    except TimeoutError:
        return
