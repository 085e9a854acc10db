"""The request id travels from the request that queued a task into the worker's log lines
(a real worker on Redis), and the task's duration and outcome reach the metrics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import structlog
from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from django.test import RequestFactory
from prometheus_client import REGISTRY

from saas.observability.middleware import RequestObservabilityMiddleware
from saas.observability.tasks import on_before_publish
from tests.celery_probe import job_probe
from tests.conftest import require_service

pytestmark = pytest.mark.django_db
BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def json_worker(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real Celery worker logging JSON lines (LOG_FORMAT=json) into a file."""
    require_service(bool(settings.REDIS_URL) and not settings.CELERY_TASK_ALWAYS_EAGER, "Redis (REDIS_URL)")
    db = connection.settings_dict
    queue = f"test-obs-{uuid.uuid4().hex[:8]}"
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "saas.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "LOG_FORMAT": "json",
    }
    with log_path.open("w") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "saas", "worker", "--pool", "solo", "-Q", queue,
             "-I", "tests.celery_probe", "--without-mingle", "--without-gossip", "--loglevel", "INFO"],
            env=env, cwd=BASE_DIR, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            yield queue, log_path
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()


def _json_lines(path: Path) -> list[dict]:
    lines = []
    for raw in path.read_text().splitlines():
        try:
            lines.append(json.loads(raw))
        except ValueError:
            continue  # Celery's own start-up banner
    return lines


def test_the_request_id_reaches_the_worker_log_of_the_task_it_queued(json_worker):
    queue, log_path = json_worker
    results = []

    def view(request):
        results.append(job_probe.apply_async(kwargs={"marker": "obs"}, queue=queue))
        return HttpResponse("queued")

    request = RequestFactory().post("/anything", HTTP_X_REQUEST_ID="req-to-worker-0001")
    response = RequestObservabilityMiddleware(view)(request)
    assert response["X-Request-ID"] == "req-to-worker-0001"
    assert results[0].get(timeout=60)["marker"] == "obs"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        finished = [
            line for line in _json_lines(log_path)
            if line.get("event") == "task finished" and line.get("task_id") == results[0].id
        ]  # fmt: skip
        if finished:
            break
        time.sleep(0.2)
    (line,) = finished
    assert line["request_id"] == "req-to-worker-0001"
    assert line["task"] == "tests.celery_probe.job_probe" and line["outcome"] == "success"
    assert line["duration_ms"] >= 0 and line["logger"] == "saas.tasks"


def test_a_task_sent_outside_a_request_has_no_request_id_header():
    structlog.contextvars.clear_contextvars()
    headers: dict = {}
    on_before_publish(headers=headers)
    assert headers == {}
    structlog.contextvars.bind_contextvars(request_id="req-header-0001")
    try:
        on_before_publish(headers=headers)
    finally:
        structlog.contextvars.clear_contextvars()
    assert headers == {"request_id": "req-header-0001"}


def test_task_duration_and_outcome_in_the_metrics_in_process():
    labels = {"task": "tests.celery_probe.job_probe", "outcome": "success"}
    before = REGISTRY.get_sample_value("saas_celery_task_duration_seconds_count", labels) or 0
    job_probe.apply(kwargs={"marker": "here"})
    assert REGISTRY.get_sample_value("saas_celery_task_duration_seconds_count", labels) == before + 1


def test_the_worker_serves_its_metrics_on_its_port_to_the_scraper_only(settings):
    import urllib.error
    import urllib.request

    from saas.observability.worker_metrics import metrics_server_start

    settings.METRICS_TOKEN = "scrape-token-1234567890"
    settings.METRICS_ALLOWED_NETWORKS = []
    server = metrics_server_start(0, host="127.0.0.1")
    url = f"http://127.0.0.1:{server.server_port}/metrics"
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=5)
        assert refused.value.code == 404
        request = urllib.request.Request(url, headers={"Authorization": "Bearer scrape-token-1234567890"})
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 - a local test server
            assert answer.status == 200
            assert b"saas_celery_task_duration_seconds" in answer.read()
    finally:
        server.shutdown()
        server.server_close()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_worker_script_adds_up_its_prefork_children_s_metrics(django_db_setup, tmp_path):
    """`scripts/worker` as the image and the chart run it: the multiprocess directory made and
    emptied of a previous run's files, the children's task metrics summed on the metrics port."""
    import urllib.request

    require_service(bool(settings.REDIS_URL) and not settings.CELERY_TASK_ALWAYS_EAGER, "Redis (REDIS_URL)")
    db = connection.settings_dict
    queue, port = f"test-obs-prefork-{uuid.uuid4().hex[:8]}", _free_port()
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    (multiproc / "counter_99999.db").write_bytes(b"left by a previous run")  # unreadable if summed
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "DJANGO_SETTINGS_MODULE": "saas.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        "METRICS_WORKER_PORT": str(port),
        "METRICS_TOKEN": "prefork-scrape-token-123456",
    }
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        worker = subprocess.Popen(
            ["scripts/worker", "--pool", "prefork", "--concurrency", "2", "-Q", queue,
             "-I", "tests.celery_probe", "--without-mingle", "--without-gossip", "--loglevel", "INFO"],
            env=env, cwd=BASE_DIR, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            results = [job_probe.apply_async(kwargs={"marker": str(i)}, queue=queue) for i in range(6)]
            assert sorted(r.get(timeout=60)["marker"] for r in results) == [str(i) for i in range(6)]
            assert not (multiproc / "counter_99999.db").exists()
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/metrics",
                headers={"Authorization": "Bearer prefork-scrape-token-123456"},
            )
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - local worker
                text = answer.read().decode()
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
    line = 'saas_celery_task_duration_seconds_count{outcome="success",task="tests.celery_probe.job_probe"}'
    counts = [float(x.split()[-1]) for x in text.splitlines() if x.startswith(line)]
    assert counts == [6.0], log_path.read_text()[-3000:]
