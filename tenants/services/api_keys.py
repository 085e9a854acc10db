"""Writes for API keys. The secret exists only in the return value of ``api_key_create``."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.request import Request

from saas.errors import ValidationFailed

from ..context import in_public_schema
from ..models import ApiKey, Membership, Tenant
from ..signals import workspace_action_send
from .team import _require_manager

KEY_PREFIX = "sk_"
# last_used_at is written at most this often per key, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def api_key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@in_public_schema
def api_key_create(
    *, tenant: Tenant, name: str, role: str, by: Membership, request: HttpRequest | Request | None = None
) -> tuple[ApiKey, str]:
    """A new key and its secret (return it to the caller once; it is not stored). Recorded
    in the workspace's audit log (``api_key.created``: name, role and prefix, never the
    secret)."""
    _require_manager(by)
    name = (name or "").strip()
    if not name or len(name) > 80:
        message = "Give the key a name of 1 to 80 characters."
        raise ValidationFailed(message, errors={"name": [{"code": "invalid", "message": message}]})
    if role not in ApiKey.Role.values:
        message = "A key's role is admin or agent."
        raise ValidationFailed(message, errors={"role": [{"code": "invalid", "message": message}]})
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        key = ApiKey.objects.create(
            tenant=tenant,
            name=name,
            role=role,
            prefix=secret[:10],
            key_hash=api_key_hash(secret),
            created_by=by.user if by.user_id else None,
        )
        workspace_action_send(
            tenant=tenant,
            action="api_key.created",
            request=request,
            actor=_person(by, request),
            target=key,
            metadata={"name": name, "role": role, "prefix": key.prefix},
        )
    return key, secret


def _person(by: Membership, request: HttpRequest | Request | None) -> object:
    """The acting user when no request names the actor (a script, a test)."""
    return by.user if request is None and by.user_id else None


@in_public_schema
def api_key_revoke(*, key: ApiKey, by: Membership, request: HttpRequest | Request | None = None) -> None:
    """Stops the key at once (every request looks the key up; nothing caches it). Recorded
    as ``api_key.revoked`` when it was still active (revoking twice records once)."""
    _require_manager(by)
    with transaction.atomic():
        revoked = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        if revoked:
            workspace_action_send(
                tenant=key.tenant,
                action="api_key.revoked",
                request=request,
                actor=_person(by, request),
                target=key,
                metadata={"name": key.name, "role": key.role, "prefix": key.prefix},
            )


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
