"""Staff read-only support access to a workspace's dashboard.

``support_access_start`` (from the platform admin) records a grant with the staff
member's reason and a time limit, writes the platform audit log and emails the
workspace's owners; it returns a one-time hand-off token that opens a *support session*
on the workspace's host (``support_access_consume`` then ``support_access_link_session``).
That session is read-only and honoured by the dashboard alone (``tenants.support``,
``tenants.dashboard``). ``support_access_end`` ends it early (an owner, or the staff
member), audited, and deletes its session.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from saas.errors import Conflict, PermissionDenied, ValidationFailed

from ..context import in_public_schema
from ..models import Membership, SupportAccess, Tenant, User
from ..signals import workspace_action_send
from .audit import audit_event_record

logger = logging.getLogger(__name__)

REASON_MIN_LENGTH = 10


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors={field: [{"code": "invalid", "message": message}]})


def _owner_emails(tenant: Tenant) -> list[str]:
    owners = Membership.objects.filter(tenant=tenant, role=Membership.Role.OWNER)
    return list(owners.values_list("user__email", flat=True))


@in_public_schema
def support_access_start(
    *,
    tenant: Tenant,
    staff_user: User,
    reason: str,
    minutes: int | None = None,
    ip: str | None = None,
    dashboard_url: str = "",
    staff_session_key: str = "",
) -> tuple[SupportAccess, str]:
    """Open a read-only support access to ``tenant`` for ``staff_user`` (active staff
    only), for ``minutes`` (default ``SUPPORT_ACCESS_MINUTES``, at most
    ``SUPPORT_ACCESS_MAX_MINUTES``), with the ``reason`` the owners will read. Audited and
    emailed to the owners after commit. Returns the grant and its one-time hand-off token
    (valid ``LOGIN_HANDOFF_SECONDS``; only its hash is stored). ``staff_session_key``: the
    staff member's platform-admin session; signing out of it ends the access."""
    if not support_access_allowed(staff_user):
        raise PermissionDenied("Only platform staff allowed to open workspaces for support can.")
    if tenant.status != Tenant.Status.ACTIVE:
        raise Conflict("Only an active workspace can be opened for support.")
    reason = " ".join((reason or "").split())
    if len(reason) < REASON_MIN_LENGTH:
        message = f"Say why, in at least {REASON_MIN_LENGTH} characters: the owners will read it."
        raise _invalid("reason", message)
    if len(reason) > 300:
        raise _invalid("reason", "Keep the reason under 300 characters.")
    minutes = settings.SUPPORT_ACCESS_MINUTES if minutes is None else minutes
    if not 1 <= minutes <= settings.SUPPORT_ACCESS_MAX_MINUTES:
        raise _invalid("minutes", f"Between 1 and {settings.SUPPORT_ACCESS_MAX_MINUTES} minutes.")
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        grant = SupportAccess.objects.create(
            tenant=tenant,
            staff=staff_user,
            staff_email=staff_user.email,
            reason=reason,
            started_at=now,
            expires_at=now + timedelta(minutes=minutes),
            handoff_hash=_hash(token),
            handoff_expires_at=now + timedelta(seconds=settings.LOGIN_HANDOFF_SECONDS),
            staff_session_key=staff_session_key,
        )
        audit_event_record(
            actor=staff_user,
            action="tenant.support_access_started",
            target=tenant,
            metadata={
                "support_access": grant.pk,
                "reason": reason,
                "expires_at": grant.expires_at.isoformat(),
            },
            ip=ip,
        )
        workspace_action_send(
            tenant=tenant,
            action="support_access.opened",
            actor=staff_user,
            actor_kind="staff",
            target=grant,
            target_repr=staff_user.email,
            metadata={"reason": reason, "minutes": minutes, "expires_at": grant.expires_at.isoformat()},
        )
        recipients = _owner_emails(tenant)
        context = {"grant": grant, "tenant": tenant, "dashboard_url": dashboard_url}
        # One line whatever the workspace's name holds (a header cannot carry a newline).
        subject = " ".join(f"Support access to {tenant.name} by {staff_user.email}".split())
        if recipients:
            transaction.on_commit(lambda: _owners_tell(subject, context, recipients))
    return grant, token


def _owners_tell(subject: str, context: dict[str, object], recipients: list[str]) -> None:
    """Email the owners; a mail server that refuses does not undo the access (it is
    recorded and listed for them on the dashboard either way)."""
    try:
        send_mail(
            subject,
            render_to_string("tenants/email/support_access.txt", context),
            settings.DEFAULT_FROM_EMAIL,
            recipients,
        )
    except Exception:
        logger.exception("support access: the owners' email was not sent")


def support_access_allowed(user: User) -> bool:
    """Active staff with the permission to open workspaces for support."""
    return bool(user.is_active and user.is_staff and user.has_perm("tenants.add_supportaccess"))


@in_public_schema
def support_access_consume(
    *, token: str, tenant: Tenant, ip: str | None = None, user_agent: str = ""
) -> SupportAccess | None:
    """Spend a hand-off token on ``tenant``'s host: the grant if the token is this
    tenant's, unspent, unexpired, its access live and its staff member still active staff;
    otherwise None. Single use even under concurrent attempts (one conditional UPDATE)."""
    now = timezone.now()
    token_hash = _hash(token or "")
    spent = SupportAccess.objects.filter(
        handoff_hash=token_hash,
        tenant=tenant,
        handoff_used_at__isnull=True,
        handoff_expires_at__gt=now,
        ended_at__isnull=True,
        expires_at__gt=now,
    ).update(handoff_used_at=now)
    if not spent:
        return None
    grant = SupportAccess.objects.select_related("staff").get(handoff_hash=token_hash)
    if grant.staff is None or not support_access_allowed(grant.staff):
        return None
    audit_event_record(
        actor=grant.staff,
        action="tenant.support_access_opened",
        target=tenant,
        metadata={"support_access": grant.pk, "user_agent": user_agent[:300]},
        ip=ip,
    )
    return grant


@in_public_schema
def support_access_link_session(*, grant: SupportAccess, session_key: str) -> None:
    """Name the session the hand-off opened: the only session the grant is honoured in."""
    grant.session_key = session_key
    grant.save(update_fields=["session_key"])


@in_public_schema
def support_access_end(*, grant: SupportAccess, by: User | None, ip: str | None = None) -> SupportAccess:
    """End a live support access now (an owner of its workspace, or the staff member who
    holds it), audited; its session is deleted. Ending one already over is refused."""
    if by is not None and by.pk != grant.staff_id:
        is_owner = Membership.objects.filter(tenant_id=grant.tenant_id, user=by, role=Membership.Role.OWNER)
        if not is_owner.exists():
            raise PermissionDenied("Only the workspace's owners can end a support access.")
    now = timezone.now()
    with transaction.atomic():
        ended = SupportAccess.objects.filter(pk=grant.pk, ended_at__isnull=True, expires_at__gt=now).update(
            ended_at=now, ended_by_email=getattr(by, "email", "") or ""
        )
        if not ended:
            raise Conflict("This support access has already ended.")
        grant.refresh_from_db()
        audit_event_record(
            actor=by,
            action="tenant.support_access_ended",
            target=grant.tenant,
            metadata={"support_access": grant.pk, "staff": grant.staff_email},
            ip=ip,
        )
        workspace_action_send(
            tenant=grant.tenant,
            action="support_access.ended",
            actor=by,
            actor_kind="staff" if by is not None and by.pk == grant.staff_id else "",
            target=grant,
            target_repr=grant.staff_email,
            metadata={"staff": grant.staff_email},
        )
    if grant.session_key:
        import_module(settings.SESSION_ENGINE).SessionStore(session_key=grant.session_key).delete()
    return grant


@in_public_schema
def support_accesses_end_for_session(*, staff_session_key: str) -> int:
    """End every live access started from this platform-admin session (its staff member
    signed out there), audited; their sessions are deleted. Returns how many ended."""
    if not staff_session_key:
        return 0
    live = SupportAccess.objects.select_related("staff", "tenant").filter(
        staff_session_key=staff_session_key, ended_at__isnull=True, expires_at__gt=timezone.now()
    )
    ended = 0
    for grant in live:
        try:
            support_access_end(grant=grant, by=grant.staff)
        except Conflict:  # it ended meanwhile
            continue
        ended += 1
    return ended
