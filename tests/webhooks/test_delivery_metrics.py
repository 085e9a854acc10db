"""Webhook deliveries in the metrics by outcome, and the request id of the work that sent
the event on the POST."""

from __future__ import annotations

import pytest
import structlog
from prometheus_client import REGISTRY

from webhooks import services

from .conftest import attempt_all_due, endpoint_for

pytestmark = pytest.mark.django_db


def _attempts(outcome: str) -> float:
    return REGISTRY.get_sample_value("saas_webhook_delivery_attempts_total", {"outcome": outcome}) or 0.0


def _emit():
    return services.event_emit(event_type="conversation.created", data={"conversation": {"id": 1}})


def test_delivered_and_failed_attempts_are_counted_and_carry_the_request_id(ws, receiver):
    endpoint_for(receiver.url + "/hook")
    receiver.statuses = [503]
    delivered, failed = _attempts("delivered"), _attempts("http_error")
    structlog.contextvars.bind_contextvars(request_id="req-webhook-0001")
    try:
        _emit()
        attempt_all_due()
    finally:
        structlog.contextvars.clear_contextvars()
    assert _attempts("http_error") == failed + 1 and _attempts("delivered") == delivered
    [request] = receiver.requests
    assert request.headers["x-request-id"] == "req-webhook-0001"


def test_a_refused_address_is_counted_as_refused(ws, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    settings.WEBHOOKS_PRIVATE_ALLOWLIST = ["127.0.0.1:9"]
    endpoint_for("http://127.0.0.1:9/hook")
    settings.WEBHOOKS_PRIVATE_ALLOWLIST = []  # allowed when saved, refused when sent
    refused = _attempts("refused")
    _emit()
    attempt_all_due()
    assert _attempts("refused") == refused + 1
