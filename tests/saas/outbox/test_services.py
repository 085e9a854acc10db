"""A task the broker refuses (Redis down) is kept in the outbox, not lost, and the beat
job sends it once the broker answers: the message lands in the broker's queue, once."""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Iterator

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from saas import celery as saas_celery
from saas.celery import app as celery_app
from saas.outbox.models import OutboxTask
from saas.outbox.services import outbox_resend
from tests.celery_probe import schema_probe
from tests.redis_server import RedisServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker() -> Iterator[RedisServer]:
    """The Celery app publishing to a Redis of the test's own (broker and results)."""
    if not RedisServer.available():
        pytest.skip("NOTICE: redis-server is not installed")
    server = RedisServer()
    server.start()
    conf = celery_app.conf
    saved = conf.broker_url, conf.result_backend, conf.task_always_eager
    conf.broker_url = conf.result_backend = server.url()
    conf.task_always_eager = False
    _forget_connections()
    try:
        yield server
    finally:
        conf.broker_url, conf.result_backend, conf.task_always_eager = saved
        _forget_connections()
        server.stop()


def _forget_connections() -> None:
    celery_app._after_fork()  # drops the pooled broker connections
    celery_app._local.__dict__.pop("backend", None)


def _queued(server: RedisServer) -> list[dict]:
    queue = celery_app.conf.task_default_queue  # where an unrouted task goes
    return [json.loads(raw) for raw in server.client().lrange(queue, 0, -1)]


def test_a_refused_task_is_kept_and_sent_once_the_broker_answers(
    broker, tenant_a, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.WARNING, logger="saas.celery")
    saas_celery._BrokerState.down = False
    broker.stop()
    with django_capture_on_commit_callbacks(execute=True), schema_context(tenant_a.schema):
        saas_celery.enqueue_on_commit(schema_probe)
        saas_celery.enqueue_on_commit(schema_probe)

    rows = list(OutboxTask.objects.all())
    assert [(r.task_name, r.schema_name) for r in rows] == [
        ("tests.celery_probe.schema_probe", tenant_a.schema)
    ] * 2
    assert all(r.last_error for r in rows)
    lines = [r.getMessage() for r in caplog.records if r.name == "saas.celery"]
    assert len(lines) == 1 and "outbox" in lines[0]  # once per state change, not per task

    # Beat runs while the broker is still down: nothing sent, the row waits longer.
    assert outbox_resend() == 0
    first = OutboxTask.objects.get(pk=rows[0].pk)
    assert first.attempts == 1 and first.next_attempt_at > timezone.now()

    broker.start()
    _forget_connections()
    OutboxTask.objects.update(next_attempt_at=timezone.now() - datetime.timedelta(seconds=1))
    assert outbox_resend() == 2
    assert not OutboxTask.objects.exists()
    queued = _queued(broker)
    assert [m["headers"]["task"] for m in queued] == ["tests.celery_probe.schema_probe"] * 2
    assert {m["headers"]["_schema_name"] for m in queued} == {tenant_a.schema}
    assert outbox_resend() == 0  # sent once: the rows are gone

    # The next publish goes straight to the broker and says so once.
    with django_capture_on_commit_callbacks(execute=True):
        saas_celery.enqueue_on_commit(schema_probe)
    assert len(_queued(broker)) == 3 and not OutboxTask.objects.exists()
    assert [r.getMessage() for r in caplog.records if r.name == "saas.celery"][
        -1
    ] == "celery: broker answers again"


def test_a_task_nobody_knows_is_dropped_not_retried_forever():
    OutboxTask.objects.create(task_name="gone.task", schema_name="public", next_attempt_at=timezone.now())
    assert outbox_resend() == 0
    assert not OutboxTask.objects.exists()
