"""Writes for API keys. The secret exists only in the return value of ``api_key_create``."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.utils import timezone

from saas.errors import ValidationFailed

from ..context import in_public_schema
from ..models import ApiKey, Membership, Tenant
from .team import _require_manager

KEY_PREFIX = "sk_"
# last_used_at is written at most this often per key, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def api_key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@in_public_schema
def api_key_create(*, tenant: Tenant, name: str, role: str, by: Membership) -> tuple[ApiKey, str]:
    """A new key and its secret (return it to the caller once; it is not stored)."""
    _require_manager(by)
    name = (name or "").strip()
    if not name or len(name) > 80:
        message = "Give the key a name of 1 to 80 characters."
        raise ValidationFailed(message, errors={"name": [{"code": "invalid", "message": message}]})
    if role not in ApiKey.Role.values:
        message = "A key's role is admin or agent."
        raise ValidationFailed(message, errors={"role": [{"code": "invalid", "message": message}]})
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        tenant=tenant,
        name=name,
        role=role,
        prefix=secret[:10],
        key_hash=api_key_hash(secret),
        created_by=by.user if by.user_id else None,
    )
    return key, secret


@in_public_schema
def api_key_revoke(*, key: ApiKey, by: Membership) -> None:
    """Stops the key at once (every request looks the key up; nothing caches it)."""
    _require_manager(by)
    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


@in_public_schema
def api_key_authenticate(*, secret: str, tenant: Tenant) -> ApiKey | None:
    """The active key of ``tenant`` with this secret, or None. Records its last use."""
    if not secret.startswith(KEY_PREFIX):
        return None
    key = ApiKey.objects.filter(key_hash=api_key_hash(secret), tenant=tenant, revoked_at__isnull=True).first()
    if key is None:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key
