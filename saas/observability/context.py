"""The request id of the work in progress: taken from a valid incoming ``X-Request-ID``
or made here, bound for the request's log lines (structlog's context variables), sent in
Celery task headers and on outbound webhooks."""

from __future__ import annotations

import re
import uuid

import structlog

HEADER = "X-Request-ID"
CELERY_HEADER = "request_id"
# What a proxy or a client may hand us: printable, no spaces, bounded (it lands in logs).
_VALID = re.compile(r"[A-Za-z0-9._:@/+=-]{8,128}")


def request_id_from(incoming: str | None) -> str:
    """``incoming`` when it is a reasonable id, else a new one (32 hex digits)."""
    if incoming and _VALID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def request_id_current() -> str | None:
    """The request id bound in this context (a request, a task), or None."""
    value = structlog.contextvars.get_contextvars().get("request_id")
    return value if isinstance(value, str) else None


def context_bind(**fields: object) -> None:
    """Add ``fields`` to every log line written from here until the request (or task) ends:
    the tenancy layer binds ``workspace``, the widget API ``widget_key`` too."""
    structlog.contextvars.bind_contextvars(**fields)
