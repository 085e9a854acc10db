"""The Celery worker's ``/metrics``: a worker serves no HTTP, so with ``METRICS_WORKER_PORT``
set its main process serves the metrics from a thread on that port, under the web's access
rule (``METRICS_TOKEN`` or ``METRICS_ALLOWED_NETWORKS``). With the prefork pool the children
record into ``PROMETHEUS_MULTIPROC_DIR`` and the main process adds them up; set it for the
worker (a directory of its own, emptied at start).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from .endpoint import PATH, metrics_registry, scraper_allowed_by

logger = logging.getLogger(__name__)

StartResponse = Callable[..., Any]


def metrics_app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    allowed = scraper_allowed_by(
        authorization=environ.get("HTTP_AUTHORIZATION", ""),
        remote_addr=environ.get("REMOTE_ADDR", ""),
        proxied="HTTP_X_FORWARDED_FOR" in environ or "HTTP_FORWARDED" in environ,
    )
    if (
        environ.get("PATH_INFO") != PATH
        or environ.get("REQUEST_METHOD") not in ("GET", "HEAD")
        or not allowed
    ):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"Not Found\n"]
    body = generate_latest(metrics_registry())
    start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Cache-Control", "no-store")])
    return [body]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every few seconds are not worth a log line each."""


def metrics_server_start(port: int, host: str = "0.0.0.0") -> WSGIServer:  # noqa: S104 - the pod's scraper
    server = make_server(host, port, metrics_app, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    logger.info("metrics served on port %d", port)
    return server


def on_worker_ready(**_: Any) -> None:
    port = os.environ.get("METRICS_WORKER_PORT")
    if port:
        metrics_server_start(int(port))
