"""saas.http_probe, the image's HEALTHCHECK: 0 only for a 200 from /healthz on $PORT."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client

from saas import http_probe
from tests.deploy.build_context import stages


class _Handler(BaseHTTPRequestHandler):
    status = {"/healthz": 200, "/broken/healthz": 503}

    def do_GET(self) -> None:
        self.send_response(self.status.get(self.path, 404))
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def _free_port() -> int:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    port = httpd.server_address[1]
    httpd.server_close()
    return port


def _healthcheck(port: int) -> subprocess.CompletedProcess[str]:
    """The Dockerfile's HEALTHCHECK command, as the container would run it."""
    (healthcheck,) = stages()[-1].all("HEALTHCHECK")
    argv = healthcheck.exec_form()
    assert argv and argv[0] == "python"
    env = {"PORT": str(port), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, *argv[1:]], env=env, capture_output=True, text=True, timeout=30)


def test_the_image_health_check_passes_when_healthz_answers_200(server):
    assert _healthcheck(server).returncode == 0


def test_the_image_health_check_fails_when_nothing_listens():
    done = _healthcheck(_free_port())
    assert done.returncode == 1
    assert "unhealthy" in done.stderr


def test_an_error_status_is_unhealthy(server):
    assert http_probe.probe(f"http://127.0.0.1:{server}/healthz", timeout=2) is None
    assert "HTTP 503" in (http_probe.probe(f"http://127.0.0.1:{server}/broken/healthz", timeout=2) or "")
    assert http_probe.main(["--url", f"http://127.0.0.1:{server}/broken/healthz"]) == 1
    assert http_probe.main(["--url", "file:///etc/passwd"]) == 1


def test_the_default_address_follows_port(monkeypatch):
    monkeypatch.setenv("PORT", "9123")
    assert http_probe.default_url() == "http://127.0.0.1:9123/healthz"
    monkeypatch.delenv("PORT")
    assert http_probe.default_url() == "http://127.0.0.1:8000/healthz"


def test_healthz_answers_200_for_the_probe_host_without_the_database():
    # The probe's Host is 127.0.0.1:<port>, in no ALLOWED_HOSTS of production.
    response = Client().get("/healthz", HTTP_HOST="127.0.0.1:8000")
    assert response.status_code == 200
