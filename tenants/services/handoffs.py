"""Moving a signed-in user between hosts: one-time hand-off tokens from the public host
to a tenant host, and ending the sessions they linked."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.db import models
from django.http import HttpRequest
from django.utils import timezone

from ..batches import batched_delete
from ..context import in_public_schema
from ..models import LoginHandoff, Membership, Tenant, User
from .support import support_accesses_end_for_session


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@in_public_schema
def login_handoff_create(*, user: User, tenant: Tenant, public_session_key: str) -> str:
    """A one-time token that signs ``user`` in on ``tenant``'s host. Only its hash is stored.

    Precondition: the caller checked that ``user`` is a member of ``tenant``.
    """
    token = secrets.token_urlsafe(32)
    LoginHandoff.objects.create(
        token_hash=_token_hash(token),
        user=user,
        tenant=tenant,
        public_session_key=public_session_key or "",
        expires_at=timezone.now() + timedelta(seconds=settings.LOGIN_HANDOFF_SECONDS),
    )
    return token


@in_public_schema
def login_handoff_start(*, user: User, tenant: Tenant, session: SessionBase) -> str:
    """A one-time token for ``user`` to ``tenant``'s host, linked to the public-host
    ``session`` (stored first if it has no key yet), so that signing out on either host
    ends both. Precondition: the caller checked that ``user`` is a member of ``tenant``."""
    if not session.session_key:
        session.save()
    return login_handoff_create(user=user, tenant=tenant, public_session_key=session.session_key or "")


@in_public_schema
def login_handoff_consume(*, token: str, tenant: Tenant) -> LoginHandoff | None:
    """Spend the token on ``tenant``'s host: the handoff if valid, unused, unexpired, for
    this tenant, and its user still an active member; otherwise None. Single use even
    under concurrent attempts (one conditional UPDATE wins)."""
    token_hash = _token_hash(token or "")
    now = timezone.now()
    spent = LoginHandoff.objects.filter(
        token_hash=token_hash, tenant=tenant, used_at__isnull=True, expires_at__gt=now
    ).update(used_at=now)
    if not spent:
        return None
    handoff = LoginHandoff.objects.select_related("user").get(token_hash=token_hash)
    if not handoff.user.is_active or not Membership.objects.filter(tenant=tenant, user=handoff.user).exists():
        return None
    return handoff


@in_public_schema
def login_handoff_link_session(*, handoff: LoginHandoff, tenant_session_key: str) -> None:
    handoff.tenant_session_key = tenant_session_key
    handoff.save(update_fields=["tenant_session_key"])


@in_public_schema
def login_handoff_purge(*, now: datetime | None = None) -> int:
    """Forget hand-offs nobody can use any more: unspent ones past expiry, and spent ones
    older than the longest session they could link (SESSION_COOKIE_AGE). A batch at a time."""
    now = now or timezone.now()
    stale = models.Q(used_at__isnull=True, expires_at__lt=now - timedelta(hours=1)) | models.Q(
        used_at__lt=now - timedelta(seconds=settings.SESSION_COOKIE_AGE)
    )
    return batched_delete(LoginHandoff.objects.filter(stale), what="hand-offs")


@in_public_schema
def sessions_end_linked(*, session_key: str | None) -> int:
    """End every session linked to ``session_key`` through a handoff (public <-> tenant).

    Signing out on a tenant host ends the public session it came from (and that session's
    other tenant sessions); signing out on the public host ends the tenant sessions it
    opened; hand-offs not spent yet by those sessions are spent. Returns how many sessions
    were ended. Called for every sign-out (:func:`sessions_end_on_sign_out`).
    """
    if not session_key:
        return 0
    handoffs = LoginHandoff.objects.filter(
        models.Q(public_session_key=session_key) | models.Q(tenant_session_key=session_key)
    )
    public_keys = {h.public_session_key for h in handoffs if h.public_session_key}
    linked = LoginHandoff.objects.filter(public_session_key__in=public_keys)
    keys = public_keys | {h.tenant_session_key for h in linked if h.tenant_session_key}
    # A hand-off issued to a session that is ending can no longer open one elsewhere.
    LoginHandoff.objects.filter(
        public_session_key__in=public_keys | {session_key}, used_at__isnull=True
    ).update(used_at=timezone.now())
    keys.discard(session_key)  # the caller ends its own session
    store = import_module(settings.SESSION_ENGINE).SessionStore
    for key in keys:
        store(session_key=key).delete()
    return len(keys)


def sessions_end_on_sign_out(sender: object, request: HttpRequest | None, **kwargs: object) -> None:
    """``user_logged_out`` receiver (``tenants.apps``): every way of signing out — a
    workspace's, allauth's, the platform admin's — ends the linked sessions. Django sends
    the signal before it flushes the session, so its key is still known here."""
    session = getattr(request, "session", None)
    if session is not None:
        sessions_end_linked(session_key=session.session_key)
        # support accesses a staff member opened from this (platform-admin) session
        support_accesses_end_for_session(staff_session_key=session.session_key or "")
