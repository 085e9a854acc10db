"""Standard Webhooks signing (https://www.standardwebhooks.com/): secrets, and the three
headers of a request.

A secret is ``whsec_`` and the base64 of 24 random bytes; the HMAC key is those bytes.
``webhook-signature`` is ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``, one per
valid secret, separated by spaces (during a rotation, the new one and the old one).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"  # noqa: S105 - the spec's prefix, not a secret
SECRET_BYTES = 24


def secret_new() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret (its base64 part, decoded)."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, *, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(
    secrets_valid: Sequence[str], *, msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The request's headers, signed with every secret in ``secrets_valid``."""
    signatures = " ".join(signature(s, msg_id=msg_id, timestamp=timestamp, body=body) for s in secrets_valid)
    return {
        "content-type": "application/json",
        "user-agent": "chatbot-webhooks/1",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }
