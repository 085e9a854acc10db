"""The embedding server: one copy of the local model per machine, for every process on it.

    python -m knowledge.embeddings.server                       # 127.0.0.1:8765
    python -m knowledge.embeddings.server --bind 0.0.0.0:8765   # a compose network, a pod
    python -m knowledge.embeddings.server --unix /run/embedder/embedder.sock

Web processes (and workers, if wished) with ``EMBEDDING_SERVER_URL`` set
(``http://127.0.0.1:8765`` or ``unix:///run/embedder/embedder.sock``) send their texts here
through ``served.ServedEmbedder`` instead of loading all-MiniLM-L6-v2 themselves (about
185 MiB more per process). The model loads once, at start; requests run on threads
(onnxruntime releases the GIL; ``local.LocalEmbedder`` runs a request's texts in parallel).

Protocol (HTTP/1.1, keep-alive):
- ``GET /healthz``: 200 ``{"model_id", "dimensions", "max_batch"}`` once the model is loaded.
- ``POST /embed`` with ``{"texts": ["...", ...]}`` (JSON, at most ``MAX_BATCH`` texts and
  ``MAX_BODY`` bytes): 200 with the unit vectors as little-endian float32, one row of
  ``dimensions`` per text in order, and the headers ``X-Model-Id`` and ``X-Dimensions``.
  The vectors are the in-process ones, bit for bit (float32 both ways).
- 400 for a body that is not that, 413 for a body too large, 503 when the model fails.

No Django: the server imports only the model's module. It trusts its callers (loopback,
a unix socket, or a private network): it has no authentication.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import socketserver
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .base import EmbeddingError
from .local import DIMENSIONS, MAX_BATCH, MODEL_ID, LocalEmbedder

logger = logging.getLogger("knowledge.embeddings.server")

DEFAULT_BIND = "127.0.0.1:8765"
MAX_BODY = 4 * 1024 * 1024  # 64 texts of a few thousand characters each, with room to spare
_embedder = LocalEmbedder()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a web process reuses one connection per thread
    server_version = "embedder/1"

    def setup(self) -> None:
        super().setup()
        if self.connection.family in (socket.AF_INET, socket.AF_INET6):
            # An answer goes out in two writes (the headers, then the vectors): with Nagle's
            # algorithm the second waits for the client's delayed ACK of the first, up to
            # 40 ms on Linux, on a connection kept alive. Sent at once instead.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != "/healthz":
            self._json(404, {"error": "not found"})
            return
        self._json(200, {"model_id": MODEL_ID, "dimensions": DIMENSIONS, "max_batch": MAX_BATCH})

    def do_POST(self) -> None:
        if self.path != "/embed":
            self._json(404, {"error": "not found"})
            return
        try:
            length = int(self.headers.get("Content-Length") or "-1")
        except ValueError:
            length = -1
        if length < 0:
            self._json(411, {"error": "Content-Length required"}, close=True)
            return
        if length > MAX_BODY:
            self._json(413, {"error": f"at most {MAX_BODY} bytes"}, close=True)
            return
        texts = _texts(self.rfile.read(length))
        if texts is None:
            self._json(400, {"error": f'expected {{"texts": [at most {MAX_BATCH} strings]}}'})
            return
        try:
            vectors = _embedder.vectors(texts)
        except EmbeddingError as exc:
            logger.error("embedding failed: %s", exc)
            self._json(503, {"error": str(exc)})
            return
        payload = vectors.astype("<f4", copy=False).tobytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-Model-Id", MODEL_ID)
        self.send_header("X-Dimensions", str(DIMENSIONS))
        self.end_headers()
        self.wfile.write(payload)

    def _json(self, status: int, body: dict[str, Any], *, close: bool = False) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if close:  # the unread body must not be taken for the next request
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug(format, *args)


def _texts(body: bytes) -> list[str] | None:
    """The texts of a request body, or None when it is not ``{"texts": [str, ...]}``."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: hostile nesting
        return None
    texts = data.get("texts") if isinstance(data, dict) else None
    if not isinstance(texts, list) or len(texts) > MAX_BATCH or not all(isinstance(t, str) for t in texts):
        return None
    return texts


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self) -> tuple[Any, Any]:
        request, _ = super().get_request()
        return request, ("unix", 0)  # BaseHTTPRequestHandler expects (host, port)


def make_server(*, bind: str = DEFAULT_BIND, unix: str = "") -> socketserver.BaseServer:
    """The server, listening, the model loaded (it answers its first request at full speed)."""
    _embedder.load()
    if unix:
        if os.path.exists(unix):  # a stale socket of an earlier run
            os.unlink(unix)
        server: socketserver.BaseServer = UnixServer(unix, Handler)
        os.chmod(unix, 0o660)
        return server
    host, _, port = bind.rpartition(":")
    threaded = ThreadingHTTPServer((host or "127.0.0.1", int(port)), Handler)
    threaded.daemon_threads = True
    return threaded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m knowledge.embeddings.server", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--bind", default=os.environ.get("EMBEDDING_SERVER_BIND", DEFAULT_BIND), help="host:port"
    )
    parser.add_argument("--unix", default="", help="listen on this unix socket instead")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    server = make_server(bind=args.bind, unix=args.unix)
    where = f"unix://{args.unix}" if args.unix else f"http://{args.bind}"
    logger.info("embedding server on %s (%s, pid %s)", where, MODEL_ID, os.getpid())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # a clean exit (and socket removal)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
        if args.unix and os.path.exists(args.unix):
            os.unlink(args.unix)
    return 0


if __name__ == "__main__":
    sys.exit(main())
