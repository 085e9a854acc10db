"""A small web site on 127.0.0.1 for tests: canned routes, a log of every request it saw.

    with SiteServer() as site:
        site.add("/", "<a href='/about'>About</a>")
        site.add("/old", status=301, headers={"Location": "/"})
        site.add("/slow", "late", delay=2)          # answers after 2 s
        site.add("/drip", "x" * 100, drip=0.05)     # one byte every 50 ms
        ... site.url("/") ... site.paths() == ["/", ...]

Each request is logged with the time it arrived by ``clock`` (``time.monotonic`` unless a
test's fake clock is given). ``wait_for(path)`` blocks until the site has been asked for
``path`` (or raises after ``timeout``).

HTTPS: pass an ``ssl.SSLContext`` (server side) as ``tls``. Responses close the connection
(HTTP/1.0), so a route with ``content_length=None`` is read until the server closes it.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

AUTO = object()


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str | None = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before the answer starts
    drip: float = 0.0  # seconds between body bytes
    content_length: object = AUTO  # AUTO: the body's length; None: no header; an int: that


@dataclass
class SeenRequest:
    path: str
    headers: dict[str, str]
    at: float


class SiteServer:
    def __init__(self, *, tls: ssl.SSLContext | None = None, clock: Callable[[], float] = time.monotonic):
        self.routes: dict[str, Route] = {}
        self.requests: list[SeenRequest] = []
        self._clock = clock
        self._lock = threading.Lock()
        self._asked = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._tls = tls
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- routes and log -------------------------------------------------------------------

    def add(self, path: str, body: str | bytes = b"", **options) -> Route:
        route = Route(body=body.encode() if isinstance(body, str) else body, **options)
        self.routes[path] = route
        return route

    def paths(self) -> list[str]:
        with self._lock:
            return [r.path for r in self.requests]

    def wait_for(self, path: str, *, timeout: float) -> None:
        """Until the site has been asked for ``path``."""
        with self._asked:
            if not self._asked.wait_for(lambda: any(r.path == path for r in self.requests), timeout):
                raise AssertionError(f"the site was not asked for {path} within {timeout} s")

    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()

    @property
    def port(self) -> int:
        assert self._httpd is not None
        return self._httpd.server_address[1]

    @property
    def origin(self) -> str:
        scheme = "https" if self._tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.origin + path

    # --- running ----------------------------------------------------------------------------

    def start(self) -> SiteServer:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with site._asked:
                    site.requests.append(SeenRequest(self.path, dict(self.headers.items()), site._clock()))
                    site._asked.notify_all()
                route = site.routes.get(self.path) or site.routes.get(urlsplit(self.path).path)
                if route is None:
                    route = Route(b"<h1>Not found</h1>", status=404)
                if route.delay and site._stopping.wait(route.delay):
                    return
                self.send_response(route.status)
                if route.content_type:
                    self.send_header("Content-Type", route.content_type)
                if route.content_length is AUTO:
                    self.send_header("Content-Length", str(len(route.body)))
                elif route.content_length is not None:
                    self.send_header("Content-Length", str(route.content_length))
                for name, value in route.headers.items():
                    self.send_header(name, value.replace("{origin}", site.origin))
                self.end_headers()
                if not route.drip:
                    self.wfile.write(route.body)
                    return
                for i in range(len(route.body)):
                    if site._stopping.wait(route.drip):
                        return
                    self.wfile.write(route.body[i : i + 1])
                    self.wfile.flush()

            def log_message(self, format, *args) -> None:  # quiet
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address) -> None:  # a client that left early
                pass

        self._httpd = Server(("127.0.0.1", 0), Handler)
        if self._tls is not None:
            self._httpd.socket = self._tls.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
