"""saas.celery: work sent for tenant A runs in A's schema: queued after the commit with the
schema active at the call, in process and on a real worker (tenant-schemas-celery)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context, tenant_context

from saas import celery as saas_celery
from saas.celery import app as celery_app
from tests.celery_probe import schema_probe, sleep_probe
from tests.conftest import require_service

pytestmark = pytest.mark.django_db
BASE_DIR = Path(__file__).resolve().parents[2]


def test_enqueue_on_commit_sends_the_schema_active_at_the_call(tenant_a, django_capture_on_commit_callbacks):
    sent = []

    class RecordingTask:
        def apply_async(self, *, args, kwargs, headers, **options):
            sent.append(headers["_schema_name"])

    previous = saas_celery.app.conf.task_always_eager
    saas_celery.app.conf.task_always_eager = False
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks, schema_context(tenant_a.schema):
            saas_celery.enqueue_on_commit(RecordingTask())
        assert connection.schema_name == "public"  # the commit happens back in public
        for callback in callbacks:
            callback()
    finally:
        saas_celery.app.conf.task_always_eager = previous
    assert sent == [tenant_a.schema]


@pytest.fixture
def eager_celery():
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def test_in_process_task_runs_in_the_schema_it_was_sent_from(tenant_a, tenant_b, eager_celery):
    with tenant_context(tenant_a.tenant):
        assert schema_probe.delay().get() == {"schema": tenant_a.schema, "widgets": ["MARKER-A-widget-0"]}
    with tenant_context(tenant_b.tenant):
        result = schema_probe.delay().get()
    assert result["schema"] == tenant_b.schema
    assert all(name.startswith("MARKER-B") for name in result["widgets"])
    assert schema_probe.delay().get() == {"schema": "public", "widgets": []}


@pytest.fixture(scope="module")
def celery_worker_queue(django_db_setup, django_db_blocker):
    """A real Celery worker process on Redis, consuming a queue of its own."""
    require_service(bool(settings.REDIS_URL) and not settings.CELERY_TASK_ALWAYS_EAGER, "Redis (REDIS_URL)")
    db = connection.settings_dict
    queue = f"test-probe-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "saas.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "saas",
            "worker",
            "--pool",
            "solo",
            "-Q",
            queue,
            "-I",
            "tests.celery_probe",
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "WARNING",
        ],
        env=env,
        cwd=BASE_DIR,
    )
    try:
        yield queue
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()


def test_worker_task_runs_in_the_schema_it_was_sent_from(celery_worker_queue, tenant_a, tenant_b):
    # Alternating senders on one worker also proves no schema leaks from one task to the next.
    expected = []
    results = []
    for seeded in (tenant_a, tenant_b, tenant_a, None, tenant_b):
        if seeded is None:
            results.append(schema_probe.apply_async(queue=celery_worker_queue))
            expected.append("public")
            continue
        with tenant_context(seeded.tenant):
            results.append(schema_probe.apply_async(queue=celery_worker_queue))
        expected.append(seeded.schema)

    outcomes = [r.get(timeout=90) for r in results]
    assert [o["schema"] for o in outcomes] == expected
    assert outcomes[0]["widgets"] == ["MARKER-A-widget-0"]
    assert outcomes[1]["widgets"] == [f"MARKER-B-widget-{i}" for i in range(3)]
    assert outcomes[3]["widgets"] == []


def test_no_task_outlives_the_visibility_timeout():
    """A task still running when the broker's visibility timeout passes would be handed out
    to a second worker: every task's hard time limit ends before it. And it is not left at
    an hour, which a task held by a vanished worker would wait."""
    celery_app.loader.import_default_modules()  # every app's tasks module
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    limits = {
        name: task.time_limit or settings.CELERY_TASK_TIME_LIMIT
        for name, task in celery_app.tasks.items()
        if not name.startswith("celery.")
    }
    assert "knowledge.tasks.source_ingest_task" in limits
    assert {name: limit for name, limit in limits.items() if limit >= visibility} == {}
    assert max(limits.values()) == settings.CELERY_LONGEST_TASK_SECONDS
    assert visibility < 3600


def test_a_stopping_worker_hands_back_a_task_it_cannot_finish_in_its_soft_shutdown(django_db_setup):
    """As the Helm chart runs workers (REMAP_SIGTERM=SIGQUIT, a soft shutdown): on SIGTERM a
    running task gets CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT, then is cancelled, and the worker
    exits with its message back in the queue at once (acks late), for another worker. A warm
    shutdown would wait out the task; a SIGKILL then would leave it to the visibility timeout."""
    require_service(bool(settings.REDIS_URL) and not settings.CELERY_TASK_ALWAYS_EAGER, "Redis (REDIS_URL)")
    import redis

    db = connection.settings_dict
    queue, marker = f"test-stop-{uuid.uuid4().hex[:8]}", f"test-stop-running-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "saas.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "REMAP_SIGTERM": "SIGQUIT",
        "CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT": "1",
    }
    arguments = ["worker", "--pool", "prefork", "--concurrency", "1", "-Q", queue, "-I", "tests.celery_probe"]
    arguments += ["--without-mingle", "--without-gossip", "--loglevel", "WARNING"]
    client = redis.Redis.from_url(settings.REDIS_URL)
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "saas", *arguments], env=env, cwd=BASE_DIR
    )
    try:
        sleep_probe.apply_async(args=(marker, 600), queue=queue, ignore_result=True)
        deadline = time.monotonic() + 60
        while not client.exists(marker):
            assert worker.poll() is None and time.monotonic() < deadline, "the task did not start"
            time.sleep(0.1)
        assert client.llen(queue) == 0  # taken: the worker runs it

        worker.send_signal(signal.SIGTERM)

        assert worker.wait(30) == 0
        assert client.llen(queue) == 1  # back in the queue, for the next worker
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
        client.delete(queue, marker)
        client.close()
