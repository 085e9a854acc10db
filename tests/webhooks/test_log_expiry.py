"""The delivery log's expiry (webhooks.services.webhook_log_expire, the hourly
``webhooks-expire``): events and their deliveries past WEBHOOKS_LOG_DAYS, a batch at a time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tenants import batches
from webhooks import services
from webhooks.models import Delivery, Event
from webhooks.tasks import webhooks_expire

from .conftest import endpoint_for

SECOND = timedelta(seconds=1)


def _events(n: int, *, created_at, status: str = "succeeded") -> list[int]:
    ids = []
    for _ in range(n):
        event = services.event_emit(event_type="conversation.created", data={"conversation": {"id": 1}})
        ids.append(event.pk)
    Event.objects.filter(pk__in=ids).update(created_at=created_at)
    Delivery.objects.filter(event_id__in=ids).update(status=status)
    return ids


def test_events_and_deliveries_go_a_second_after_the_keep_period(ws, receiver, settings):
    settings.WEBHOOKS_LOG_DAYS = 30
    endpoint_for(receiver.url + "/a")
    endpoint_for(receiver.url + "/b")
    now = timezone.now()
    limit = now - timedelta(days=30)
    old = _events(2, created_at=limit - SECOND)
    kept = _events(1, created_at=limit + SECOND)
    pending = _events(1, created_at=limit - timedelta(days=5), status="pending")
    counts = services.webhook_log_expire(now=now)
    assert counts == {"expired_webhook_events": 2, "expired_webhook_deliveries": 4}
    assert set(Event.objects.values_list("pk", flat=True)) == set(kept + pending)
    assert not Delivery.objects.filter(event_id__in=old).exists()
    assert services.webhook_log_expire(now=now) == {
        "expired_webhook_events": 0,
        "expired_webhook_deliveries": 0,
    }


def test_an_expiry_stopped_after_a_batch_finishes_on_the_next_run(ws, receiver, settings, monkeypatch):
    settings.HOUSEKEEPING_BATCH_SIZE = 2
    endpoint_for(receiver.url + "/a")
    old = _events(5, created_at=timezone.now() - timedelta(days=90))
    real = batches.batch_committed

    def die(what, count):
        real(what, count)
        raise RuntimeError("worker killed")

    monkeypatch.setattr(batches, "batch_committed", die)
    with pytest.raises(RuntimeError):
        services.webhook_log_expire()
    assert Event.objects.filter(pk__in=old).count() == 3
    monkeypatch.setattr(batches, "batch_committed", real)
    assert services.webhook_log_expire()["expired_webhook_events"] == 3
    assert not Event.objects.filter(pk__in=old).exists()


def test_the_hourly_task_sums_the_workspaces(ws, receiver):
    endpoint_for(receiver.url + "/a")
    _events(1, created_at=timezone.now() - timedelta(days=90))
    counts = webhooks_expire.apply().get()
    assert counts["expired_webhook_events"] >= 1 and counts["expired_webhook_deliveries"] >= 1
    assert webhooks_expire.apply().get() == {"expired_webhook_events": 0, "expired_webhook_deliveries": 0}
