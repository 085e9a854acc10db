"""Delivering events: Standard Webhooks signatures (checked with the spec's own library),
retries until a 2xx with the event id unchanged, refused addresses never called, disabled
endpoints sent nothing, an endpoint failing for a day disabled with its owners emailed once,
rotation signing with both secrets, resend, and one workspace's events never reaching
another's endpoints."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context
from standardwebhooks.webhooks import Webhook

from audit.models import AuditEvent
from saas.errors import ValidationFailed
from tests.fakes.webhook_receiver import WebhookReceiver
from webhooks import services
from webhooks.models import Delivery, Endpoint, Event
from webhooks.selectors import endpoint_secret

from .conftest import attempt_all_due, endpoint_for

pytestmark = pytest.mark.django_db


def _emit(data=None, event_type="conversation.created"):
    return services.event_emit(event_type=event_type, data=data or {"conversation": {"id": 1}})


def test_a_delivery_is_signed_the_standard_webhooks_way(ws, receiver, queued):
    endpoint = endpoint_for(receiver.url + "/hook")
    event = _emit()
    [delivery] = attempt_all_due()
    [request] = receiver.requests
    payload = Webhook(endpoint_secret(endpoint)).verify(request.body, request.headers)
    assert delivery.status == "succeeded" and queued == [delivery.pk]
    assert request.headers["webhook-id"] == event.event_id and event.event_id.startswith("evt_")
    assert payload["type"] == "conversation.created" and payload["id"] == event.event_id
    assert payload["api_version"] == "2026-12-01" and payload["workspace"]["slug"] == ws.tenant.slug
    assert payload["data"] == {"conversation": {"id": 1}} and payload["timestamp"].endswith("Z")
    assert (
        delivery.response_status == 200
        and delivery.response_body == "ok"
        and delivery.duration_ms is not None
    )


def test_a_tampered_body_does_not_verify(ws, receiver):
    endpoint = endpoint_for(receiver.url)
    _emit()
    attempt_all_due()
    [request] = receiver.requests
    with pytest.raises(Exception, match=r"(?i)signature"):
        Webhook(endpoint_secret(endpoint)).verify(request.body.replace(b"1", b"2"), request.headers)


def test_a_receiver_failing_three_times_then_succeeding_gets_one_success_with_the_same_id(ws, receiver):
    receiver.statuses = [500, 503, 502]
    endpoint_for(receiver.url)
    event = _emit()
    statuses = []
    for _ in range(4):
        [delivery] = attempt_all_due()
        statuses.append(delivery.status)
        if delivery.status == "pending":
            assert delivery.next_attempt_at > timezone.now()  # a retry, later
    assert attempt_all_due() == []  # nothing left to send
    delivery = Delivery.objects.get()
    assert statuses == ["pending", "pending", "pending", "succeeded"]
    assert delivery.attempts == 4 and delivery.status == "succeeded"
    assert Delivery.objects.filter(status="succeeded").count() == 1
    assert {r.headers["webhook-id"] for r in receiver.requests} == {event.event_id}
    assert len({r.body for r in receiver.requests}) == 1


def test_retries_back_off_over_about_a_day_then_fail(ws, receiver):
    receiver.statuses = [500] * 10
    endpoint_for(receiver.url)
    _emit()
    delays = []
    for _ in range(len(services.RETRY_DELAYS) + 1):
        [delivery] = attempt_all_due()
        if delivery.next_attempt_at:
            delays.append((delivery.next_attempt_at - delivery.last_attempt_at).total_seconds())
    assert delivery.status == "failed" and delivery.attempts == 7 and len(receiver.requests) == 7
    assert all(d * 0.79 <= got <= d * 1.21 for d, got in zip(services.RETRY_DELAYS, delays, strict=True))
    assert 15 * 3600 < sum(services.RETRY_DELAYS) < 30 * 3600


def test_a_redirect_is_not_followed(ws, receiver):
    receiver.statuses = [302]
    endpoint_for(receiver.url)
    _emit()
    [delivery] = attempt_all_due()
    assert delivery.status == "pending" and delivery.response_status == 302 and len(receiver.requests) == 1


def test_a_receiver_on_a_refused_address_is_never_called(ws, receiver, settings):
    endpoint_for(receiver.url)
    settings.WEBHOOKS_PRIVATE_ALLOWLIST = []  # 127.0.0.1 is private, and no longer allowed
    _emit()
    [delivery] = attempt_all_due()
    assert delivery.status == "refused" and delivery.next_attempt_at is None
    assert "public" in delivery.error.lower() or "private" in delivery.error.lower()
    assert receiver.requests == [] and attempt_all_due() == []  # not retried


def test_a_private_url_is_refused_when_saved(ws, settings):
    settings.WEBHOOKS_PRIVATE_ALLOWLIST = []
    with pytest.raises(ValidationFailed) as caught:
        services.endpoint_create(url="http://127.0.0.1:9/hook", event_types=["conversation.created"])
    assert "url" in caught.value.errors
    with pytest.raises(ValidationFailed) as caught:
        services.endpoint_create(url="ftp://example.com/", event_types=["conversation.created"])
    assert "url" in caught.value.errors


def test_unknown_or_no_event_types_are_refused(ws, receiver):
    for types in ([], ["conversation.exploded"]):
        with pytest.raises(ValidationFailed) as caught:
            services.endpoint_create(url=receiver.url, event_types=types)
        assert "event_types" in caught.value.errors


def test_a_disabled_endpoint_gets_nothing(ws, receiver):
    endpoint = endpoint_for(receiver.url)
    other = endpoint_for(receiver.url + "/other", "message.created")
    _emit()  # queued while enabled
    services.endpoint_disable(endpoint=endpoint)
    assert _emit() is None  # nobody subscribed and enabled: nothing stored
    [delivery] = attempt_all_due() or [None]
    assert delivery is None and receiver.requests == []
    assert Delivery.objects.get(endpoint=endpoint).status == "failed"
    assert not Delivery.objects.filter(endpoint=other).exists()


def test_an_endpoint_failing_for_a_day_is_disabled_and_its_owners_emailed_once(
    ws, receiver, settings, mailoutbox, django_capture_on_commit_callbacks
):
    receiver.statuses = [500] * 20
    settings.WEBHOOKS_DISABLE_AFTER_FAILURES = 3
    endpoint = endpoint_for(receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            _emit()
        attempt_all_due()  # three failures in a row, but only just now
        assert Endpoint.objects.get().is_enabled
        Endpoint.objects.update(failing_since=timezone.now() - timedelta(hours=25))
        attempt_all_due()  # still failing a day later: disabled at the first of these
    endpoint.refresh_from_db()
    assert not endpoint.is_enabled and "in a row failed" in endpoint.disabled_reason
    assert len(receiver.requests) == 4  # the other two were not sent once it was disabled
    assert [m.to for m in mailoutbox] == [[ws.owner.email]]
    assert endpoint.url in mailoutbox[0].subject
    # The workspace's audit log says so, done by the platform (no member did it).
    (event,) = AuditEvent.objects.filter(action="webhook_endpoint.auto_disabled")
    assert event.actor_kind == AuditEvent.ActorKind.SYSTEM and event.target_id == str(endpoint.public_id)
    assert event.metadata["consecutive_failures"] == 4  # the first attempt a day later
    services.endpoint_enable(endpoint=endpoint)
    endpoint.refresh_from_db()
    assert endpoint.is_enabled and endpoint.consecutive_failures == 0 and endpoint.failing_since is None


def test_a_success_resets_the_failure_count(ws, receiver):
    receiver.statuses = [500, 500]
    endpoint_for(receiver.url)
    _emit()
    attempt_all_due()
    attempt_all_due()
    assert Endpoint.objects.get().consecutive_failures == 2
    attempt_all_due()
    endpoint = Endpoint.objects.get()
    assert endpoint.consecutive_failures == 0 and endpoint.failing_since is None


def test_after_a_rotation_requests_are_signed_with_both_secrets_for_a_day(ws, receiver):
    endpoint = endpoint_for(receiver.url)
    old = endpoint_secret(endpoint)
    rotated = services.endpoint_secret_rotate(endpoint=endpoint)
    new = endpoint_secret(rotated)
    _emit()
    attempt_all_due()
    request = receiver.requests[-1]
    assert new != old and new.startswith("whsec_")
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(request.body, request.headers)
    Webhook(new).verify(request.body, request.headers)
    Endpoint.objects.update(previous_secret_expires_at=timezone.now() - timedelta(seconds=1))
    _emit()
    attempt_all_due()
    request = receiver.requests[-1]
    assert len(request.headers["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(request.body, request.headers)
    with pytest.raises(Exception, match=r"(?i)signature"):
        Webhook(old).verify(request.body, request.headers)


def test_a_resend_sends_the_same_event_id_and_body_again(ws, receiver, queued):
    endpoint_for(receiver.url)
    event = _emit()
    [delivery] = attempt_all_due()
    queued.clear()
    services.delivery_resend(delivery=delivery)
    [again] = attempt_all_due()
    assert again.status == "succeeded" and queued == [delivery.pk] and len(receiver.requests) == 2
    assert receiver.requests[0].body == receiver.requests[1].body
    assert receiver.requests[1].headers["webhook-id"] == event.event_id


def test_a_test_ping_goes_to_that_endpoint_only(ws, receiver):
    endpoint = endpoint_for(receiver.url + "/a", "message.created")
    endpoint_for(receiver.url + "/b", "message.created")
    event = services.endpoint_test_send(endpoint=endpoint)
    attempt_all_due()
    [request] = receiver.requests
    assert request.path == "/a" and json.loads(request.body)["type"] == "webhook.test" == event.type


def test_a_claimed_delivery_is_not_sent_twice(ws, receiver):
    endpoint_for(receiver.url)
    _emit()
    delivery = Delivery.objects.get()
    assert services.delivery_attempt(delivery_id=delivery.pk) is not None
    assert services.delivery_attempt(delivery_id=delivery.pk) is None  # done (and not due)
    assert len(receiver.requests) == 1


def test_the_sweep_queues_due_deliveries(ws, receiver, queued):
    endpoint_for(receiver.url)
    _emit()
    queued.clear()
    Delivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert services.deliveries_due_send() == 1


def test_one_workspace_s_events_never_reach_another_s_endpoints(tenant_a, tenant_b, receiver):
    with tenant_context(tenant_b.tenant):
        endpoint_for(receiver.url + "/b")
    with tenant_context(tenant_a.tenant):
        endpoint_for(receiver.url + "/a")
        _emit()
        attempt_all_due()
    with tenant_context(tenant_b.tenant):
        assert attempt_all_due() == [] and not Event.objects.exists()
    assert [r.path for r in receiver.requests] == ["/a"]
    assert json.loads(receiver.requests[0].body)["workspace"]["slug"] == tenant_a.tenant.slug


def test_the_body_s_excerpt_is_kept_to_2_kb(ws, settings):
    with WebhookReceiver(answer=b"x" * 10_000) as big:
        settings.WEBHOOKS_PRIVATE_ALLOWLIST = [big.address]
        endpoint_for(big.url)
        _emit()
        [delivery] = attempt_all_due()
    assert delivery.status == "succeeded" and len(delivery.response_body) == 2048


def test_the_log_keeps_recent_and_pending_events_only(ws, receiver):
    endpoint_for(receiver.url)
    old, pending, recent = _emit(), _emit(), _emit()
    Delivery.objects.filter(event=old).update(status="succeeded")
    long_ago = timezone.now() - timedelta(days=31)
    Event.objects.filter(pk__in=[old.pk, pending.pk]).update(created_at=long_ago)
    assert services.events_expire() == 1
    assert set(Event.objects.values_list("pk", flat=True)) == {pending.pk, recent.pk}


def test_an_endpoint_deleted_while_its_request_is_out_leaves_nothing_to_record(ws, receiver, monkeypatch):
    endpoint_for(receiver.url)
    _emit()
    real = services.sending.post

    def post_then_delete(url, **kwargs):
        answer = real(url, **kwargs)
        Endpoint.objects.all().delete()
        return answer

    monkeypatch.setattr(services.sending, "post", post_then_delete)
    [delivery] = attempt_all_due()
    assert delivery.status == "succeeded" and not Delivery.objects.exists() and len(receiver.requests) == 1
