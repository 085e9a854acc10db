"""One POST made with an Idempotency-Key: who made it, what it asked (a fingerprint) and,
once it has finished, what it was answered."""

from __future__ import annotations

from django.db import models


class IdempotencyRecord(models.Model):
    # "key:<api key id>" or "user:<user id>": each caller has keys of its own.
    caller = models.CharField(max_length=40)
    key = models.CharField(max_length=255)
    # SHA-256 of the method, the path and the body as parsed: a retry must ask the same.
    fingerprint = models.CharField(max_length=64)
    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Set when the call finished with an answer worth giving again (a 2xx).
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    body = models.JSONField(null=True, blank=True)
    location = models.CharField(max_length=2000, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["caller", "key"], name="idempotency_caller_key")]

    def __str__(self) -> str:
        return f"{self.caller} {self.key}"
