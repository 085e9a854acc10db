"""Reads for staff support access (the writes are in ``tenants.services.support``).

A support session is not a sign-in: it carries no Django user, only
:data:`SUPPORT_SESSION_KEY` naming its :class:`~tenants.models.SupportAccess`. So nothing
but :func:`tenants.dashboard.dashboard_page` honours it: the REST API, the widget API and
every other view see an anonymous visitor. The decorator reads the grant afresh on every
request (:func:`support_access_of_session`), so an access that expires, is ended, or whose
staff member lost ``is_staff`` stops at once.
"""

from __future__ import annotations

from django.contrib.sessions.backends.base import SessionBase
from django.db.models import QuerySet
from django.utils import timezone

from .models import SupportAccess, Tenant

SUPPORT_SESSION_KEY = "_support_access"


def support_session_grant_id(session: SessionBase) -> int | None:
    """The grant a session was opened for, or None for any other session."""
    value = session.get(SUPPORT_SESSION_KEY)
    return value if isinstance(value, int) else None


def support_access_of_session(*, tenant: Tenant, session: SessionBase) -> SupportAccess | None:
    """The live grant of a support session on ``tenant``'s host: for this tenant, opened
    for this very session, not ended, not expired, its staff member still active staff."""
    grant_id = support_session_grant_id(session)
    if grant_id is None or not session.session_key:
        return None
    grant = (
        SupportAccess.objects.select_related("staff")
        .filter(
            pk=grant_id,
            tenant=tenant,
            session_key=session.session_key,
            ended_at__isnull=True,
            expires_at__gt=timezone.now(),
            staff__is_active=True,
            staff__is_staff=True,
        )
        .first()
    )
    # Still allowed to open workspaces for support (the permission can be taken away).
    if grant is None or grant.staff is None or not grant.staff.has_perm("tenants.add_supportaccess"):
        return None
    return grant


def support_accesses_for(tenant: Tenant, *, limit: int = 20) -> QuerySet[SupportAccess]:
    """The workspace's support accesses, newest first (what its owners are shown)."""
    return SupportAccess.objects.filter(tenant=tenant).order_by("-started_at", "-id")[:limit]
