"""A delivery through a real Celery worker (Redis): the task runs in the schema it was
queued from and the receiver gets one signed request. Data is committed (the worker is
another process) and deleted afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.db import connection
from django_tenants.utils import tenant_context
from standardwebhooks.webhooks import Webhook

from tests.conftest import require_service
from tests.fakes.webhook_receiver import WebhookReceiver
from webhooks import services, tasks
from webhooks.models import Delivery, Endpoint, Event
from webhooks.selectors import endpoint_secret

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def receiver_and_worker(seeded, settings):
    require_service(bool(settings.REDIS_URL) and not settings.CELERY_TASK_ALWAYS_EAGER, "Redis (REDIS_URL)")
    db = connection.settings_dict
    queue = f"test-webhooks-{uuid.uuid4().hex[:8]}"
    with WebhookReceiver() as receiver:
        settings.WEBHOOKS_PRIVATE_ALLOWLIST = [receiver.address]
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "saas.settings.test",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "REDIS_URL": settings.REDIS_URL,
            "WEBHOOKS_PRIVATE_ALLOWLIST": receiver.address,
        }
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "saas", "worker", "--pool", "solo", "-Q", queue,
             "--without-mingle", "--without-gossip", "--loglevel", "WARNING"],
            env=env,
            cwd=BASE_DIR,
        )  # fmt: skip
        try:
            yield receiver, queue
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()


@pytest.mark.worker
def test_a_delivery_runs_on_a_worker(receiver_and_worker, seeded, django_db_blocker):
    receiver, queue = receiver_and_worker
    tenant = seeded["a"].tenant
    with django_db_blocker.unblock(), tenant_context(tenant):
        endpoint = services.endpoint_create(url=receiver.url + "/worker", event_types=["contact.created"])
        event = services.event_emit(event_type="contact.created", data={"contact": {"id": "c-1"}})
        delivery = Delivery.objects.get(event=event)
        secret = endpoint_secret(endpoint)
    try:
        with tenant_context(tenant):
            result = tasks.webhook_deliver.apply_async(args=[delivery.pk], queue=queue)
        assert result.get(timeout=90) == "succeeded"
        [request] = receiver.requests
        assert Webhook(secret).verify(request.body, request.headers)["id"] == event.event_id
        with django_db_blocker.unblock(), tenant_context(tenant):
            assert Delivery.objects.get(pk=delivery.pk).status == "succeeded"
    finally:
        with django_db_blocker.unblock(), tenant_context(tenant):
            Event.objects.filter(pk=event.pk).delete()
            Endpoint.objects.filter(pk=endpoint.pk).delete()
