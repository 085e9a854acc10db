"""How a tenant's server knows that a call comes from the platform, and for whom.

Every call carries:

    X-Chatbot-Action         the action's name
    X-Chatbot-Call-Id        the call's id (unique: reject a repeat)
    X-Chatbot-Timestamp      Unix seconds when it was sent (reject if far from now)
    X-Chatbot-Visitor-Id     the visitor's user id from the website's verified identity
                             (absent when the visitor's identity is not verified)
    X-Chatbot-Signature      v1=<hex HMAC-SHA256 of the signed string, key: the secret>

The signed string is the call id, the timestamp, the METHOD, the URL as sent (query
included), the visitor id (or nothing) and the body, each but the body followed by a line
feed (``\n``), which none of them can contain: neither the visitor, nor the inputs, nor the
target can be changed, or moved from one field to another, without the signature failing.
A visitor id that is not printable ASCII is sent percent-encoded (UTF-8).
:func:`signature_verify` is the check a tenant's server runs (docs/actions.md has it in a
few lines of Python and Node.js).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from urllib.parse import quote

SECRET_PREFIX = "acsec_"  # noqa: S105 - the format's prefix, not a secret
TOLERANCE_SECONDS = 300

H_ACTION = "X-Chatbot-Action"
H_CALL = "X-Chatbot-Call-Id"
H_TIMESTAMP = "X-Chatbot-Timestamp"
H_VISITOR = "X-Chatbot-Visitor-Id"
H_SIGNATURE = "X-Chatbot-Signature"
RESERVED = {h.lower() for h in (H_ACTION, H_CALL, H_TIMESTAMP, H_VISITOR, H_SIGNATURE)}


def secret_new() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _signed(call_id: str, timestamp: int, method: str, url: str, visitor_id: str, body: bytes) -> bytes:
    return f"{call_id}\n{timestamp}\n{method.upper()}\n{url}\n{visitor_id}\n".encode() + body


def visitor_header(visitor_id: str) -> str:
    """The visitor id as the header carries it: printable ASCII as it is, else percent-encoded."""
    if visitor_id.isascii() and visitor_id.isprintable():
        return visitor_id
    return quote(visitor_id, safe="")


def signature(
    secret: str, *, call_id: str, timestamp: int, method: str, url: str, visitor_id: str, body: bytes
) -> str:
    digest = hmac.new(
        secret.encode(), _signed(call_id, timestamp, method, url, visitor_id, body), hashlib.sha256
    )
    return "v1=" + digest.hexdigest()


def signed_headers(
    secret: str, *, action: str, call_id: str, method: str, url: str, visitor_id: str, body: bytes
) -> dict[str, str]:
    timestamp = int(time.time())
    visitor_id = visitor_header(visitor_id)
    headers = {
        H_ACTION: action,
        H_CALL: call_id,
        H_TIMESTAMP: str(timestamp),
        H_SIGNATURE: signature(
            secret,
            call_id=call_id,
            timestamp=timestamp,
            method=method,
            url=url,
            visitor_id=visitor_id,
            body=body,
        ),
    }
    if visitor_id:
        headers[H_VISITOR] = visitor_id
    return headers


def signature_verify(
    secret: str, headers: Mapping[str, str], *, method: str, url: str, body: bytes, now: float | None = None
) -> str | None:
    """The verified visitor id ("" for a visitor without a verified identity), or None when
    the request is not the platform's (bad signature, or a timestamp out of tolerance).
    ``headers`` may be any case-insensitive or lower-cased mapping."""
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        timestamp = int(lowered.get(H_TIMESTAMP.lower(), ""))
    except ValueError:
        return None
    if abs((time.time() if now is None else now) - timestamp) > TOLERANCE_SECONDS:
        return None
    visitor_id = lowered.get(H_VISITOR.lower(), "")
    expected = signature(
        secret,
        call_id=lowered.get(H_CALL.lower(), ""),
        timestamp=timestamp,
        method=method,
        url=url,
        visitor_id=visitor_id,
        body=body,
    )
    given = lowered.get(H_SIGNATURE.lower(), "").encode("utf-8", errors="replace")
    return visitor_id if hmac.compare_digest(expected.encode(), given) else None
