"""Claiming an Idempotency-Key, keeping the answer of the call that made it, and what a
retry is answered (Stripe's rules, which API clients expect):

* the first call with a key runs; a 2xx answer is kept for ``API_IDEMPOTENCY_HOURS``;
* a retry with the same key and the same request gets that answer again (with the header
  ``Idempotent-Replayed: true``), and nothing runs twice;
* the same key with another request is refused (422 ``idempotency_key_reused``);
* a retry while the first call still runs is refused (409 ``idempotency_key_in_use``,
  ``Retry-After: 1``); two concurrent calls create one row, the database's unique
  constraint decides which;
* a call that did not succeed (a refusal, a server error) keeps nothing: the key may be
  used again, for the corrected request;
* a claim left by a process that died is taken over after ``ABANDONED_AFTER``.

Preconditions: the tenant's schema is active (the rows are the tenant's).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from saas.errors import ProblemError

from .models import IdempotencyRecord

KEY_MAX = 255
ABANDONED_AFTER = timedelta(minutes=5)


class IdempotencyKeyInvalid(ProblemError):
    status = 400
    code = "idempotency_key_invalid"
    title = "The Idempotency-Key header is not valid"


class IdempotencyKeyReused(ProblemError):
    status = 422
    code = "idempotency_key_reused"
    title = "This Idempotency-Key was used for another request"


class IdempotencyKeyInUse(ProblemError):
    status = 409
    code = "idempotency_key_in_use"
    title = "A request with this Idempotency-Key is still running"


@dataclass(frozen=True)
class Replay:
    """The answer a retry gets: the first call's."""

    status: int
    body: Any
    location: str


def key_check(value: str) -> str:
    """The header's value, or 400 when it is empty, too long or not printable ASCII."""
    key = value.strip()
    if not key or len(key) > KEY_MAX or not key.isascii() or not key.isprintable():
        raise IdempotencyKeyInvalid(f"Send 1 to {KEY_MAX} printable ASCII characters, e.g. a UUID.")
    return key


def fingerprint_of(method: str, path: str, data: Any) -> str:
    """What a request asks, as a hash: its method, path and parsed body (JSON keys sorted,
    a file by its name, size and content, so a multipart retry with another boundary
    matches)."""

    def plain(value: Any) -> Any:
        if hasattr(value, "lists"):  # a QueryDict: every value of each name
            return {k: [plain(v) for v in vs] for k, vs in sorted(value.lists())}
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        if hasattr(value, "chunks") and hasattr(value, "size"):  # an uploaded file
            digest = hashlib.sha256()
            for chunk in value.chunks():
                digest.update(chunk)
            value.seek(0)
            return {"file": getattr(value, "name", ""), "size": value.size, "sha256": digest.hexdigest()}
        return value if isinstance(value, str | int | float | bool | type(None)) else str(value)

    raw = json.dumps([method, path, plain(data)], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def idempotency_claim(*, caller: str, key: str, fingerprint: str) -> IdempotencyRecord | Replay:
    """The claim of a first call (a row to finish or release), or the answer of a retry.
    Raises ``IdempotencyKeyReused`` or ``IdempotencyKeyInUse``."""
    try:  # a new key (the usual case): one INSERT
        with transaction.atomic():
            return IdempotencyRecord.objects.create(caller=caller, key=key, fingerprint=fingerprint)
    except IntegrityError:
        pass
    found = IdempotencyRecord.objects.filter(caller=caller, key=key).first()
    if found is None:  # finished and released meanwhile: this call may run
        return idempotency_claim(caller=caller, key=key, fingerprint=fingerprint)
    kept_since = timezone.now() - timedelta(hours=settings.API_IDEMPOTENCY_HOURS)
    if found.started_at < kept_since:  # expired, not yet swept by idempotency_expire: a new call
        IdempotencyRecord.objects.filter(pk=found.pk, started_at=found.started_at).delete()
        return idempotency_claim(caller=caller, key=key, fingerprint=fingerprint)
    if found.fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            "This key was sent with another request. Use a new key for each new request."
        )
    if found.status is not None:
        return Replay(found.status, found.body, found.location)
    if found.started_at < timezone.now() - ABANDONED_AFTER:  # its process died: take it over
        taken = IdempotencyRecord.objects.filter(pk=found.pk, started_at=found.started_at, status=None)
        if taken.update(started_at=timezone.now()):
            found.refresh_from_db()
            return found
    raise IdempotencyKeyInUse(
        "The first request with this key has not finished. Try again in a moment.",
        headers={"Retry-After": "1"},
    )


def idempotency_finish(record: IdempotencyRecord, *, status: int, body: Any, location: str = "") -> None:
    """Keep a successful answer for the retries; any other outcome frees the key."""
    if 200 <= status < 300:
        record.status, record.body, record.location = status, body, location[:2000]
        record.save(update_fields=["status", "body", "location"])
    else:
        IdempotencyRecord.objects.filter(pk=record.pk).delete()


def idempotency_expire() -> int:
    """Delete the keys older than ``API_IDEMPOTENCY_HOURS`` (a periodic job)."""
    kept_since = timezone.now() - timedelta(hours=settings.API_IDEMPOTENCY_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(started_at__lt=kept_since).delete()
    return deleted
