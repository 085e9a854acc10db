"""What the tests' fake HTTP servers (llm_server.py, stripe_server.py) share: a threaded
keep-alive HTTP/1.1 server on a local port, started from the test thread and stopped with
every open connection closed and every thread joined.

A fake subclasses :class:`FakeHTTPServer`, calls ``super().__init__(host, port)`` and
returns its request handler (a :class:`FakeHandler`) from ``handler_class``.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)


class FakeHTTPServer:
    name = "fake"  # for thread names and logs

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self.connections_opened = 0  # TCP connections accepted so far: shows whether clients keep alive
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return f"http://{self.host}:{self._httpd.server_address[1]}"

    def handler_class(self) -> type[FakeHandler]:
        raise NotImplementedError

    def start(self):
        self._stopping.clear()
        self._httpd = _HTTPServer((self.host, self.port), self.handler_class())
        self._httpd.fake = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=self.name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, close the listening socket and every open connection, join the threads."""
        if self._httpd is None:
            return
        self._stopping.set()  # wakes handlers sleeping in delays, hangs and gates
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            connections = dict(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):  # wakes handlers blocked reading a keep-alive connection
                conn.shutdown(socket.SHUT_RDWR)
        for thread in [self._thread, *connections.values()]:
            if thread is not None:
                thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # ~100 clients connect at once in the chat benchmark
    fake: FakeHTTPServer

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # HTTPServer's would do a (possibly slow) getfqdn()
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("%s: error while handling %s", self.fake.name, client_address, exc_info=True)


class FakeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, Nagle + delayed ACK add ~40 ms a request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        fake = self.server.fake
        with fake._lock:
            fake._connections[self.connection] = threading.current_thread()
            fake.connections_opened += 1
            if fake._stopping.is_set():  # accepted while stop() was closing the others
                self.connection.shutdown(socket.SHUT_RDWR)

    def finish(self) -> None:
        with self.server.fake._lock:
            self.server.fake._connections.pop(self.connection, None)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(f"{self.server.fake.name}: " + format, *args)
