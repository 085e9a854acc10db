"""knowledge.embeddings.server and its client (served.ServedEmbedder): one copy of the local
model per machine. The server runs as its own process, as in production; the process that
asks it for vectors never loads the model, and gets the in-process vectors bit for bit."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from knowledge.embeddings import embedder_for
from knowledge.embeddings.base import Embedder, EmbeddingError
from knowledge.embeddings.local import LocalEmbedder
from knowledge.embeddings.served import ServedEmbedder
from knowledge.embeddings.server import Handler, make_server

ROOT = Path(__file__).resolve().parents[3]
TEXTS = ["How do I reset my password?", "", "Ünïcödé, emoji 🎉 and 中文", "parcel " * 400]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url: str, process: subprocess.Popen, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the embedding server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the embedding server did not come up")


@pytest.fixture(scope="module")
def server_url():
    """``python -m knowledge.embeddings.server`` on a free loopback port."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "knowledge.embeddings.server", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


# The web process's side: loads the whole web application, embeds through the server, and
# says whether the model (or its runtime) ever came into the process.
WEB_PROCESS = textwrap.dedent(
    """
    import json, sys
    import django
    from django.conf import settings

    django.setup()
    settings.EMBEDDING_SERVER_URL = sys.argv[1]
    from saas.asgi import application  # noqa: F401 - the web application, as uvicorn loads it
    from django.urls import get_resolver

    for urlconf in (settings.ROOT_URLCONF, settings.PUBLIC_SCHEMA_URLCONF):
        get_resolver(urlconf).url_patterns  # every view module imported
    from knowledge.embeddings import embedder_for, local

    embedder = embedder_for("local")
    texts = json.loads(sys.argv[2])
    out = {
        "class": type(embedder).__name__,
        "model_id": embedder.model_id,
        "documents": embedder.embed_documents(texts),
        "query": embedder.embed_query(texts[0]),
        "model_loaded": local._model is not None,
        "runtime_imported": [m for m in ("onnxruntime", "onnx") if m in sys.modules],
    }
    out["rss_kib"] = int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1])
    print(json.dumps(out))
    """
)


def test_served_vectors_equal_in_process_ones_and_the_web_process_never_loads_the_model(server_url):
    result = subprocess.run(
        [sys.executable, "-c", WEB_PROCESS, server_url, json.dumps(TEXTS)],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "saas.settings.test"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    web = json.loads(result.stdout.strip().splitlines()[-1])
    assert web["class"] == "ServedEmbedder" and web["model_id"] == LocalEmbedder.model_id
    assert web["model_loaded"] is False and web["runtime_imported"] == []
    here = LocalEmbedder()
    assert np.array_equal(np.array(web["documents"], dtype=np.float32), here.vectors(TEXTS))
    assert web["query"] == here.embed_query(TEXTS[0])  # bit for bit: float32 both ways


def test_embedder_for_local_is_the_server_when_configured_else_in_process(server_url, settings):
    settings.EMBEDDING_SERVER_URL = server_url
    served = embedder_for("local")
    assert isinstance(served, ServedEmbedder) and isinstance(served, Embedder)
    assert served is embedder_for("local", "all-MiniLM-L6-v2")  # one client, kept
    assert (served.dimensions, served.max_batch) == (384, 64)
    many = [f"text number {i}" for i in range(150)]  # more than one request's worth
    assert np.array_equal(
        np.array(served.embed_documents(many), dtype=np.float32), LocalEmbedder().vectors(many)
    )
    settings.EMBEDDING_SERVER_URL = ""
    assert isinstance(embedder_for("local"), LocalEmbedder)


def test_threads_share_the_server(server_url):
    served = ServedEmbedder(server_url)
    results: dict[int, list[float]] = {}

    def ask(i: int) -> None:
        for _ in range(5):
            results[i] = served.embed_query(f"question {i}")

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = LocalEmbedder().vectors([f"question {i}" for i in range(6)])
    assert np.array_equal(np.array([results[i] for i in range(6)], dtype=np.float32), expected)


def test_a_server_that_is_down_or_silent_raises_a_clear_error():
    port = _free_port()  # nothing listens there
    with pytest.raises(EmbeddingError, match=rf"127.0.0.1:{port} could not be reached.*EMBEDDING_SERVER_URL"):
        ServedEmbedder(f"http://127.0.0.1:{port}").embed_query("hello")
    with pytest.raises(EmbeddingError, match="could not be reached"):
        ServedEmbedder("unix:///nonexistent/embedder.sock").embed_query("hello")
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(EmbeddingError, match=r"did not answer within 0.2 s"):
            ServedEmbedder(url, timeout=0.2).embed_query("hello")
    with pytest.raises(EmbeddingError, match="not http://host:port nor unix"):
        ServedEmbedder("ftp://example.com")


@pytest.fixture
def in_thread_server():
    """The same server in this process (the model is loaded here anyway), on a unix socket."""
    path = f"/tmp/embedder-test-{os.getpid()}.sock"  # noqa: S108 - short path: sun_path is 108 bytes
    server = make_server(unix=path)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield path
    finally:
        server.shutdown()
        server.server_close()
        os.unlink(path)


def test_unix_socket_and_refused_requests(in_thread_server):
    served = ServedEmbedder(f"unix://{in_thread_server}")
    assert np.array_equal(
        np.array(served.embed_documents(TEXTS), dtype=np.float32), LocalEmbedder().vectors(TEXTS)
    )

    def post(body: bytes) -> tuple[int, bytes]:
        connection = served._connection()[0]  # the same thread's connection: reused after errors
        connection.request("POST", "/embed", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()

    assert post(b"[" * 100_000 + b"]" * 100_000)[0] == 400  # hostile nesting: refused, not crashed
    assert post(json.dumps({"texts": ["x"] * 65}).encode())[0] == 400  # more than one batch
    assert post(json.dumps({"texts": [1]}).encode())[0] == 400
    with socket.socket(socket.AF_UNIX) as raw:  # a body too large is refused before it is read
        raw.connect(in_thread_server)
        raw.sendall(b"POST /embed HTTP/1.1\r\nHost: x\r\nContent-Length: 4194305\r\n\r\n")
        assert raw.recv(100).startswith(b"HTTP/1.1 413")
    assert served.embed_query("still there") == LocalEmbedder().embed_query("still there")


def test_tcp_answers_are_not_held_back_by_nagles_algorithm():
    """An answer is written as headers then vectors: on a kept-alive TCP connection the
    second write waited for the client's delayed ACK (40 ms) until TCP_NODELAY was set.
    (A unix socket has no such option: test_unix_socket_and_refused_requests serves one.)"""
    with (
        socket.create_server(("127.0.0.1", 0)) as listener,
        socket.create_connection(listener.getsockname()[:2]),
    ):
        accepted, _ = listener.accept()
        with accepted:
            assert not accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            handler = Handler.__new__(Handler)  # set up as socketserver does, not run
            handler.request = accepted
            handler.setup()
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
