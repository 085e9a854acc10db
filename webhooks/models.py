"""A workspace's webhook endpoints, the events sent to them and each (event, endpoint)
delivery with its attempts (tenant schema)."""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models


class Endpoint(models.Model):
    """A URL of the tenant's that receives the events it subscribes to. The secret (and the
    one it replaced, valid until ``previous_secret_expires_at``) is stored encrypted
    (saas.crypto). A disabled endpoint receives nothing."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True, default="")
    event_types = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    is_enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True, default="")
    disabled_at = models.DateTimeField(null=True, blank=True)
    secret = models.TextField()  # encrypted "whsec_..."
    previous_secret = models.TextField(blank=True, default="")  # encrypted, during a rotation
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    # Failed attempts in a row, and since when every attempt has failed (None: last one succeeded).
    consecutive_failures = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.url


class Event(models.Model):
    """One occurrence of an event type, with the body every endpoint receives, byte for byte
    at every attempt (its id, ``evt_...``, is the ``webhook-id`` of every attempt and resend)."""

    event_id = models.CharField(max_length=40, unique=True)
    type = models.CharField(max_length=64)
    body = models.TextField()  # the JSON sent
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class Delivery(models.Model):
    """The sending of one event to one endpoint: pending until a 2xx answer (succeeded) or
    the last attempt (failed); refused when the endpoint's address is not allowed."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        REFUSED = "refused", "Refused"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # The last attempt: what was sent, what came back.
    request_headers = models.JSONField(default=dict, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, default="")  # the first 2 KB
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "endpoint"], name="webhook_delivery_once")]
        indexes = [
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_log"),
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due",
                condition=models.Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} -> {self.endpoint_id}: {self.status}"
