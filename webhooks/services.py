"""Writes of the webhooks app: endpoints (create, edit, rotate the secret, enable, disable,
delete), events with a delivery per subscribed endpoint, and each delivery's attempts.

Delivery is at least once: a delivery is pending until a 2xx answer; an attempt claims
the row (``next_attempt_at`` moves a lease ahead, so the beat sweep does not send it at
the same time), posts outside any transaction, then records the answer and, on failure,
the next attempt after ``RETRY_DELAYS`` (with jitter). Every attempt of an event carries
the same ``webhook-id`` and body. An endpoint whose every attempt has failed for
WEBHOOKS_DISABLE_AFTER_HOURS, at least WEBHOOKS_DISABLE_AFTER_FAILURES times in a row, is
disabled and its workspace's owners are emailed once.
Preconditions: the tenant's schema is active.
"""

from __future__ import annotations

import importlib
import json
import logging
import random
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import schema_context

from audit.services import Caller, audit_record, field_changes
from chat.notifications import workspace_url
from saas.celery import enqueue_on_commit
from saas.crypto import secret_encrypt
from saas.errors import Conflict, ValidationFailed
from saas.outbound import UnsafeAddress, host_port, url_host_check
from saas.tenant_connection import connection
from tenants.batches import batched_delete
from tenants.models import Membership, Tenant
from ui.emails import email_send

from . import sending
from .models import Delivery, Endpoint, Event
from .payloads import EVENT_TYPES, TEST_EVENT, envelope, event_id_new
from .selectors import SUBSCRIBED_KEY, endpoint_secrets_valid
from .signing import secret_new, signed_headers

if TYPE_CHECKING:
    from celery import Task

logger = logging.getLogger(__name__)

# Seconds before the 2nd, 3rd, ... attempt: 7 attempts over about 17.5 h.
RETRY_DELAYS = (5, 300, 1800, 7200, 18000, 36000)
JITTER = 0.2  # each delay is stretched or shrunk by up to a fifth
LEASE = timedelta(minutes=2)  # longer than an attempt can take (timeout + the answer)
ROTATION_OVERLAP = timedelta(hours=24)
MAX_ENDPOINTS = 20


def _task(name: str) -> Task[Any, Any]:
    # By name, when queued: the tasks module sits above the services and imports them.
    task: Task[Any, Any] = getattr(importlib.import_module("webhooks.tasks"), name)
    return task


def _invalid(field: str, message: str, code: str = "invalid") -> ValidationFailed:
    return ValidationFailed(errors={field: [{"code": code, "message": message}]})


def _private_allowed(url: str) -> bool:
    if settings.WEBHOOKS_ALLOW_PRIVATE:
        return True
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    allowed = {entry.strip().lower() for entry in settings.WEBHOOKS_PRIVATE_ALLOWLIST}
    return host_port(parts.hostname or "", port) in allowed


def _subscriptions_changed() -> None:
    """Forget the workspace's subscribed event types, now and once the change commits."""
    schema = connection.schema_name

    def forget() -> None:
        with schema_context(schema):
            cache.delete(SUBSCRIBED_KEY)

    forget()
    transaction.on_commit(forget)


def _cleaned(url: str, description: str, event_types: list[str]) -> tuple[str, str, list[str]]:
    url = (url or "").strip()
    if not url:
        raise _invalid("url", "Enter the URL that receives the events.", "required")
    if len(url) > 2000:
        raise _invalid("url", "Keep the URL under 2000 characters.", "too_long")
    try:
        url_host_check(url, allow_private=_private_allowed(url))
    except UnsafeAddress as error:
        raise _invalid("url", str(error), error.code) from error
    chosen = sorted(set(event_types))
    if not chosen:
        raise _invalid("event_types", "Choose at least one event.", "required")
    unknown = [t for t in chosen if t not in EVENT_TYPES]
    if unknown:
        raise _invalid("event_types", f"Unknown event type: {', '.join(unknown)}.")
    return url, (description or "").strip()[:200], chosen


def url_shown(url: str) -> str:
    """An endpoint's URL as the audit log keeps it: without credentials, query or fragment
    (receivers often put a token there)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{parts.path}"[
        :255
    ]


def _audit(action: str, endpoint: Endpoint, request: Caller | None, metadata: dict[str, Any]) -> None:
    audit_record(
        action=action,
        request=request,
        target_type="endpoint",
        target_id=str(endpoint.public_id),
        target_repr=url_shown(endpoint.url),
        metadata=metadata,
    )


def _audited(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "url": url_shown(endpoint.url),
        "description": endpoint.description,
        "event_types": ", ".join(endpoint.event_types),
        "is_enabled": endpoint.is_enabled,
    }


def endpoint_create(
    *, url: str, description: str = "", event_types: list[str], request: Caller | None = None
) -> Endpoint:
    """A new enabled endpoint with a new secret. The URL must be http(s) on public addresses.
    Recorded as ``webhook_endpoint.created`` (never its secret)."""
    url, description, event_types = _cleaned(url, description, event_types)
    with transaction.atomic():
        if Endpoint.objects.count() >= MAX_ENDPOINTS:
            raise Conflict(f"A workspace has at most {MAX_ENDPOINTS} webhook endpoints.")
        _subscriptions_changed()
        endpoint = Endpoint.objects.create(
            url=url, description=description, event_types=event_types, secret=secret_encrypt(secret_new())
        )
        _audit(
            "webhook_endpoint.created", endpoint, request, {"url": url_shown(url), "event_types": event_types}
        )
    return endpoint


def _audit_change(endpoint: Endpoint, before: dict[str, Any], request: Caller | None) -> None:
    metadata = field_changes(before, _audited(endpoint), shown=before)
    if metadata:
        _audit("webhook_endpoint.updated", endpoint, request, metadata)


def endpoint_update(
    *,
    endpoint: Endpoint,
    url: str,
    description: str = "",
    event_types: list[str],
    request: Caller | None = None,
) -> Endpoint:
    """Change the endpoint (``webhook_endpoint.updated`` with what changed)."""
    before = _audited(endpoint)
    endpoint.url, endpoint.description, endpoint.event_types = _cleaned(url, description, event_types)
    with transaction.atomic():
        endpoint.save(update_fields=["url", "description", "event_types", "updated_at"])
        _subscriptions_changed()
        _audit_change(endpoint, before, request)
    return endpoint


def endpoint_delete(*, endpoint: Endpoint, request: Caller | None = None) -> None:
    """Delete the endpoint with its deliveries (``webhook_endpoint.deleted``)."""
    with transaction.atomic():
        _audit("webhook_endpoint.deleted", endpoint, request, {"url": url_shown(endpoint.url)})
        endpoint.delete()
        _subscriptions_changed()


def endpoint_secret_rotate(*, endpoint: Endpoint, request: Caller | None = None) -> Endpoint:
    """A new secret; the one it replaces stays valid (requests are signed with both) for 24 h.
    Recorded as ``webhook_endpoint.secret_rotated`` (no secret in it)."""
    with transaction.atomic():
        locked = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
        locked.previous_secret, locked.secret = locked.secret, secret_encrypt(secret_new())
        locked.previous_secret_expires_at = timezone.now() + ROTATION_OVERLAP
        locked.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
        expires = locked.previous_secret_expires_at.isoformat()
        _audit("webhook_endpoint.secret_rotated", locked, request, {"previous_secret_valid_until": expires})
    return locked


def endpoint_enable(*, endpoint: Endpoint, request: Caller | None = None) -> Endpoint:
    """Enabled again: its failure count starts over (``webhook_endpoint.updated``)."""
    before = _audited(endpoint)
    endpoint.is_enabled, endpoint.disabled_reason, endpoint.disabled_at = True, "", None
    endpoint.consecutive_failures, endpoint.failing_since = 0, None
    with transaction.atomic():
        endpoint.save(
            update_fields=[
                "is_enabled",
                "disabled_reason",
                "disabled_at",
                "consecutive_failures",
                "failing_since",
                "updated_at",
            ]
        )
        _subscriptions_changed()
        _audit_change(endpoint, before, request)
    return endpoint


def endpoint_disable(
    *, endpoint: Endpoint, reason: str = "Disabled by a member.", request: Caller | None = None
) -> Endpoint:
    """Stop sending to it (``webhook_endpoint.updated`` when it was enabled)."""
    before = _audited(endpoint)
    endpoint.is_enabled, endpoint.disabled_reason, endpoint.disabled_at = False, reason[:300], timezone.now()
    with transaction.atomic():
        endpoint.save(update_fields=["is_enabled", "disabled_reason", "disabled_at", "updated_at"])
        _subscriptions_changed()
        _audit_change(endpoint, before, request)
    return endpoint


def _current_tenant() -> Tenant:
    return Tenant.objects.get(schema_name=connection.schema_name)


def event_emit(
    *, event_type: str, data: dict[str, Any], endpoint_ids: list[int] | None = None
) -> Event | None:
    """Store an event and a pending delivery for each enabled endpoint subscribed to it (or
    each of ``endpoint_ids``, enabled, for a test ping); each is sent after the commit.
    None when no endpoint wants it (nothing is stored)."""
    endpoints = Endpoint.objects.filter(is_enabled=True)
    if endpoint_ids is None:
        endpoints = endpoints.filter(event_types__contains=[event_type])
    else:
        endpoints = endpoints.filter(pk__in=endpoint_ids)
    targets = list(endpoints.values_list("pk", flat=True))
    if not targets:
        return None
    now, event_id = timezone.now(), event_id_new()
    body = envelope(tenant=_current_tenant(), event_type=event_type, event_id=event_id, at=now, data=data)
    with transaction.atomic():
        event = Event.objects.create(event_id=event_id, type=event_type, body=json.dumps(body))
        deliveries = Delivery.objects.bulk_create(
            [Delivery(event=event, endpoint_id=pk, next_attempt_at=now) for pk in targets]
        )
        for delivery in deliveries:
            enqueue_on_commit(_task("webhook_deliver"), delivery.pk)
    return event


def endpoint_test_send(*, endpoint: Endpoint) -> Event:
    """A ``webhook.test`` event to this endpoint only."""
    if not endpoint.is_enabled:
        raise Conflict("Enable the endpoint before sending it a test event.")
    event = event_emit(
        event_type=TEST_EVENT,
        data={"message": "A test event from your workspace."},
        endpoint_ids=[endpoint.pk],
    )
    assert event is not None  # noqa: S101 - the endpoint is enabled
    return event


def delivery_resend(*, delivery: Delivery) -> Delivery:
    """Send the delivery's event again (same id, same body), with a new series of attempts."""
    if not delivery.endpoint.is_enabled:
        raise Conflict("Enable the endpoint before resending to it.")
    with transaction.atomic():
        delivery.status, delivery.attempts = Delivery.Status.PENDING, 0
        delivery.next_attempt_at, delivery.error = timezone.now(), ""
        delivery.save(update_fields=["status", "attempts", "next_attempt_at", "error"])
        enqueue_on_commit(_task("webhook_deliver"), delivery.pk)
    return delivery


def deliveries_due_send() -> int:
    """Queue every pending delivery whose attempt is due (the beat sweep, each workspace)."""
    due = Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=timezone.now())
    ids = list(due.order_by("next_attempt_at").values_list("pk", flat=True)[:1000])
    for delivery_id in ids:
        enqueue_on_commit(_task("webhook_deliver"), delivery_id)
    return len(ids)


def webhook_log_expire(*, now: datetime | None = None) -> dict[str, int]:
    """Delete the events (and their deliveries) older than WEBHOOKS_LOG_DAYS that have
    nothing pending, a batch per short transaction until none is left; the hourly beat
    job, each workspace. Returns the events and deliveries deleted."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.WEBHOOKS_LOG_DAYS)
    old = Event.objects.filter(created_at__lt=cutoff).exclude(deliveries__status=Delivery.Status.PENDING)
    deliveries: list[int] = []

    def count_deliveries(event_ids: list[object]) -> None:
        deliveries.append(Delivery.objects.filter(event_id__in=event_ids).count())

    events = batched_delete(old, what="webhooks: events", before_delete=count_deliveries)
    return {"expired_webhook_events": events, "expired_webhook_deliveries": sum(deliveries)}


def events_expire() -> int:
    """The events :func:`webhook_log_expire` deleted."""
    return webhook_log_expire()["expired_webhook_events"]


def _claim(delivery_id: int) -> Delivery | None:
    """The delivery, if its attempt is due and nobody else is sending it, with the attempt
    counted and a lease taken; a delivery to a disabled endpoint fails here, unsent."""
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("endpoint", "event")
            .filter(pk=delivery_id, status=Delivery.Status.PENDING, next_attempt_at__lte=now)
            .first()
        )
        if delivery is None:
            return None
        if not delivery.endpoint.is_enabled:
            delivery.status, delivery.next_attempt_at = Delivery.Status.FAILED, None
            delivery.error = "Not sent: the endpoint is disabled."
            delivery.save(update_fields=["status", "next_attempt_at", "error"])
            return None
        delivery.attempts += 1
        delivery.last_attempt_at, delivery.next_attempt_at = now, now + LEASE
        delivery.save(update_fields=["attempts", "last_attempt_at", "next_attempt_at"])
    return delivery


def delivery_attempt(*, delivery_id: int) -> Delivery | None:
    """One attempt of the delivery, if due (None: not due, done, or being sent elsewhere)."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return None
    body = delivery.event.body.encode()
    headers = signed_headers(
        endpoint_secrets_valid(delivery.endpoint),
        msg_id=delivery.event.event_id,
        timestamp=int(time.time()),
        body=body,
    )
    answer = sending.post(delivery.endpoint.url, body=body, headers=headers)
    return _record(delivery, headers, answer)


def _next_delay(attempts: int) -> float:
    delay = RETRY_DELAYS[attempts - 1]
    return delay * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311 - jitter, not a secret


def _record(delivery: Delivery, headers: dict[str, str], answer: sending.Answer) -> Delivery:
    now = timezone.now()
    delivery.request_headers = dict(headers)
    delivery.response_status, delivery.response_body = answer.status, answer.body
    delivery.duration_ms, delivery.error = answer.duration_ms, answer.error
    if answer.ok:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
            Delivery.Status.SUCCEEDED,
            now,
            None,
        )
    elif answer.refused:
        delivery.status, delivery.next_attempt_at = Delivery.Status.REFUSED, None
    elif delivery.attempts > len(RETRY_DELAYS):
        delivery.status, delivery.next_attempt_at = Delivery.Status.FAILED, None
    else:
        delivery.next_attempt_at = now + timedelta(seconds=_next_delay(delivery.attempts))
    if answer.status is not None and not answer.ok and not delivery.error:
        delivery.error = f"The endpoint answered {answer.status}."
    fields = (
        "status",
        "next_attempt_at",
        "delivered_at",
        "request_headers",
        "response_status",
        "response_body",
        "duration_ms",
        "error",
    )
    with transaction.atomic():
        # An update, not a save: the endpoint (and its deliveries) may have been deleted
        # while the request was out; then there is nothing left to record.
        if Delivery.objects.filter(pk=delivery.pk).update(**{f: getattr(delivery, f) for f in fields}):
            _endpoint_health(delivery.endpoint_id, ok=answer.ok)
    return delivery


def _endpoint_health(endpoint_id: int, *, ok: bool) -> None:
    """Count the endpoint's failures in a row; disable it once every attempt has failed
    long and often enough (owners emailed once, on the change)."""
    now = timezone.now()
    if ok:
        Endpoint.objects.filter(pk=endpoint_id, consecutive_failures__gt=0).update(
            consecutive_failures=0, failing_since=None
        )
        return
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint_id)
    endpoint.consecutive_failures += 1
    endpoint.failing_since = endpoint.failing_since or now
    fields = ["consecutive_failures", "failing_since"]
    window = timedelta(hours=settings.WEBHOOKS_DISABLE_AFTER_HOURS)
    if (
        endpoint.is_enabled
        and endpoint.consecutive_failures >= settings.WEBHOOKS_DISABLE_AFTER_FAILURES
        and endpoint.failing_since <= now - window
    ):
        endpoint.is_enabled, endpoint.disabled_at = False, now
        endpoint.disabled_reason = (
            f"Disabled automatically: {endpoint.consecutive_failures} attempts in a row failed "
            f"over {settings.WEBHOOKS_DISABLE_AFTER_HOURS} hours or more."
        )
        fields += ["is_enabled", "disabled_at", "disabled_reason"]
        _subscriptions_changed()
        _audit(
            "webhook_endpoint.auto_disabled",
            endpoint,
            None,
            {
                "consecutive_failures": endpoint.consecutive_failures,
                "failing_since": endpoint.failing_since.isoformat(),
            },
        )
        tenant = _current_tenant()
        transaction.on_commit(lambda: _owners_tell(tenant, endpoint))
    endpoint.save(update_fields=fields)


def _owners_tell(tenant: Tenant, endpoint: Endpoint) -> None:
    owners = Membership.objects.filter(
        tenant=tenant, role=Membership.Role.OWNER, user__is_active=True
    ).values_list("user__email", flat=True)
    page_url = workspace_url(tenant, reverse("webhooks:endpoint", args=[endpoint.public_id]))
    for email in owners:
        try:
            email_send(
                subject=f"Webhook endpoint disabled: {endpoint.url}",
                template="webhooks/email/disabled",
                context={"tenant": tenant, "endpoint": endpoint, "page_url": page_url},
                to=[email],
            )
        except Exception:
            logger.exception("webhooks: the disabled endpoint email to an owner failed")
