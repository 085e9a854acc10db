"""Visitor bearer tokens: signed, bound to (tenant, widget, contact), expiring.

The widget keeps the token in localStorage (browsers block third-party cookies) and sends
it as ``Authorization: Bearer <token>``; it never travels in a URL.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from django.core import signing
from django.utils import timezone

from saas.errors import ProblemError

SALT = "chat.visitor-token"
MAX_AGE = timedelta(days=30)


class VisitorTokenInvalid(ProblemError):
    status = 401
    code = "visitor_token_invalid"
    title = "The visitor token is not valid for this widget"


class VisitorTokenExpired(ProblemError):
    status = 401
    code = "visitor_token_expired"
    title = "The visitor token has expired"


def visitor_token_issue(
    *, tenant_id: int, widget_id: int, contact_public_id: UUID | str
) -> tuple[str, datetime]:
    token = signing.dumps(
        {"t": tenant_id, "w": widget_id, "c": str(contact_public_id)}, salt=SALT, compress=True
    )
    return token, timezone.now() + MAX_AGE


def visitor_token_read(token: str, *, tenant_id: int, widget_id: int) -> str:
    """The contact's public id, if the token is genuine, unexpired and for this widget."""
    try:
        data = signing.loads(token, salt=SALT, max_age=MAX_AGE)
    except signing.SignatureExpired as exc:
        raise VisitorTokenExpired("Start a new visitor session.") from exc
    except signing.BadSignature as exc:
        raise VisitorTokenInvalid() from exc
    if not isinstance(data, dict) or data.get("t") != tenant_id or data.get("w") != widget_id:
        raise VisitorTokenInvalid()
    return str(data.get("c", ""))
