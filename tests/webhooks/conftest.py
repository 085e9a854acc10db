"""Webhook tests: deliveries are attempted by calling the service in the test (the queued
task is recorded, not run), against a local receiver the allow-list lets through."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from tests.fakes.webhook_receiver import WebhookReceiver
from webhooks import services
from webhooks.models import Delivery


@pytest.fixture(autouse=True)
def queued(monkeypatch) -> list[int]:
    """The delivery ids queued (to be sent after the commit; the task is not run)."""
    ids: list[int] = []

    def enqueue(task, *args, **kwargs):
        ids.append(args[0])

    monkeypatch.setattr("webhooks.services.enqueue_on_commit", enqueue)
    return ids


@pytest.fixture
def receiver(settings):
    with WebhookReceiver() as server:
        settings.WEBHOOKS_PRIVATE_ALLOWLIST = [server.address]
        yield server


@pytest.fixture
def ws(tenant_a):
    with tenant_context(tenant_a.tenant):
        yield tenant_a


def endpoint_for(url: str, *types: str):
    return services.endpoint_create(url=url, event_types=list(types or ["conversation.created"]))


def attempt_all_due() -> list[Delivery]:
    """Attempt every pending delivery as if its time had come."""
    done = []
    for delivery in Delivery.objects.filter(status=Delivery.Status.PENDING):
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=delivery.created_at)
        result = services.delivery_attempt(delivery_id=delivery.pk)
        if result is not None:
            done.append(result)
    return done
