"""A TCP proxy in front of PostgreSQL that a test (or a benchmark) can cut: "the database
is down" for whoever connects through it, while the suite's own connections stay up.

    with DatabaseProxy("127.0.0.1", 5432) as proxy:   # listens on 127.0.0.1:proxy.port
        ...                                          # connections pass through
        proxy.cut()       # open connections are dropped, new ones refused
        proxy.restore()   # listens again on the same port

It runs its own event loop in a daemon thread, so sync tests can drive it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, Self

_CHUNK = 65536


class DatabaseProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0  # chosen by the system on start, then kept across cut/restore
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="db-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    # --- driven from the test's thread -------------------------------------------------

    def start(self) -> Self:
        self._thread.start()
        self._call(self._listen())
        return self

    def cut(self) -> None:
        """Drop every open connection and refuse new ones."""
        self._call(self._cut())

    def restore(self) -> None:
        """Accept connections again, on the same port."""
        self._call(self._listen())

    def close(self) -> None:
        self._call(self._cut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, coroutine: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)

    # --- on the proxy's loop -----------------------------------------------------------

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
            self.port = self._server.sockets[0].getsockname()[1]

    async def _cut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()
        if server is not None:
            await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        pair = {writer, upstream_writer}
        self._open |= pair
        await asyncio.gather(_pump(reader, upstream_writer), _pump(upstream_reader, writer))
        self._open -= pair


async def _pump(source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(_CHUNK):
            target.write(data)
            await target.drain()
    except OSError:
        pass  # the other side went away, or the proxy was cut
    finally:
        with contextlib.suppress(OSError):
            target.close()


@contextlib.contextmanager
def database_behind_proxy(django_db_blocker: Any) -> Iterator[DatabaseProxy]:
    """This process's connections (the default alias) go through a :class:`DatabaseProxy`
    while the block runs, with database access unblocked and no test transaction (one
    cannot outlive its connection). The suite's database itself stays up."""
    # Imported here: the module is also usable without Django (a benchmark's own proxy).
    from django.db import connection

    from saas.dependency_state import state_changed

    params = connection.settings_dict
    saved = params["HOST"], params["PORT"]
    with django_db_blocker.unblock():
        connection.close()
        with DatabaseProxy(saved[0] or "127.0.0.1", int(saved[1])) as proxy:
            params["HOST"], params["PORT"] = "127.0.0.1", str(proxy.port)
            state_changed("database", True)  # whatever an earlier test left
            try:
                yield proxy
            finally:
                connection.close()
                params["HOST"], params["PORT"] = saved
        connection.ensure_connection()
