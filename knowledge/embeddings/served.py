"""The local model, run by the machine's embedding server (``server.py``) instead of in this
process: what ``embedder_for("local")`` returns when ``EMBEDDING_SERVER_URL`` is set.

Same ``model_id``, dimensions and vectors (bit for bit) as ``local.LocalEmbedder``: stored
vectors stay valid whichever of the two made them. One keep-alive connection per thread
(a stale one is replaced once); a short timeout (``EMBEDDING_SERVER_TIMEOUT`` seconds for a
query, ten times that for a batch of documents). A server that is down, slow or answering
something else raises ``EmbeddingError`` saying so: retrieval then answers from keyword
search alone (``retrieval.retrieve``), ingestion marks the source failed.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import threading
from collections.abc import Sequence
from urllib.parse import urlsplit

import numpy as np

from .base import EmbeddingError
from .local import DIMENSIONS, MAX_BATCH, MODEL_ID

DOCUMENTS_TIMEOUT_FACTOR = 10  # a batch of up to MAX_BATCH long texts on a busy machine
START_IT = (
    "Start it (python -m knowledge.embeddings.server) or unset EMBEDDING_SERVER_URL to run "
    "the model in each process."
)


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class ServedEmbedder:
    model_id = MODEL_ID
    dimensions = DIMENSIONS
    max_batch = MAX_BATCH

    def __init__(self, url: str, *, timeout: float = 2.0) -> None:
        parts = urlsplit(url)
        if parts.scheme == "unix" and parts.path:
            self._unix, self._host, self._port = parts.path, "", 0
        elif parts.scheme == "http" and parts.hostname:
            self._unix, self._host, self._port = "", parts.hostname, parts.port or 80
        else:
            raise EmbeddingError(
                f"EMBEDDING_SERVER_URL {url!r} is not http://host:port nor unix:///path/to/socket."
            )
        self.url = url
        self.timeout = timeout
        self._local = threading.local()

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        texts = list(texts)
        rows: list[list[float]] = []
        for start in range(0, len(texts), MAX_BATCH):
            batch = texts[start : start + MAX_BATCH]
            rows.extend(self.vectors(batch, timeout=self.timeout * DOCUMENTS_TIMEOUT_FACTOR).tolist())
        return rows

    def embed_query(self, text: str) -> list[float]:
        row: list[float] = self.vectors([text], timeout=self.timeout)[0].tolist()
        return row

    def vectors(self, texts: list[str], *, timeout: float) -> np.ndarray:
        """The unit vectors of at most ``max_batch`` texts, one float32 row each, in order."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        body = json.dumps({"texts": texts}).encode()
        try:
            status, headers, payload = self._post(body, timeout)
        except TimeoutError as exc:
            raise EmbeddingError(
                f"The embedding server at {self.url} did not answer within {timeout:g} s."
            ) from exc
        except OSError as exc:  # refused, reset, no such socket
            raise EmbeddingError(
                f"The embedding server at {self.url} could not be reached "
                f"({exc.__class__.__name__}). {START_IT}"
            ) from exc
        if status != 200:
            raise EmbeddingError(
                f"The embedding server at {self.url} answered HTTP {status}: {payload[:200]!r}."
            )
        if headers.get("X-Model-Id") != MODEL_ID or len(payload) != len(texts) * DIMENSIONS * 4:
            raise EmbeddingError(
                f"The embedding server at {self.url} runs {headers.get('X-Model-Id')!r}, not {MODEL_ID}: "
                "run the same release of the platform on both."
            )
        return np.frombuffer(payload, dtype="<f4").reshape(len(texts), DIMENSIONS).astype(np.float32)

    def _post(self, body: bytes, timeout: float) -> tuple[int, http.client.HTTPMessage, bytes]:
        """One request on this thread's connection; a kept-alive connection the server has
        closed meanwhile is replaced once (the request is idempotent)."""
        for attempt in (1, 2):
            connection, reused = self._connection()
            connection.timeout = timeout
            if connection.sock is not None:
                connection.sock.settimeout(timeout)
            try:
                connection.request("POST", "/embed", body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                payload = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._drop()
                if reused and attempt == 1:
                    continue
                raise
            except (OSError, http.client.HTTPException) as exc:
                self._drop()
                if isinstance(exc, http.client.HTTPException):
                    raise ConnectionError(str(exc)) from exc
                raise
            if response.will_close:
                self._drop()
            return response.status, response.headers, payload
        raise AssertionError("unreachable")  # pragma: no cover

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        held = getattr(self._local, "held", None)
        if held is not None and held[0] == os.getpid():  # a forked child opens its own
            return held[1], held[1].sock is not None
        connection: http.client.HTTPConnection = (
            _UnixConnection(self._unix, self.timeout)
            if self._unix
            else http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
        )
        self._local.held = (os.getpid(), connection)
        return connection, False

    def _drop(self) -> None:
        held = getattr(self._local, "held", None)
        if held is not None:
            held[1].close()
        self._local.held = None
