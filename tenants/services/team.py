"""Writes for a workspace's team: invitations, roles, removal.

Rules (checked here, whatever the caller — dashboard form or API):
* owners and admins invite, change roles and remove members; agents do none of it;
* only owners grant, change or remove the owner role;
* the last owner can be neither demoted nor removed.
"""

from __future__ import annotations

from datetime import timedelta

from allauth.account.models import EmailAddress
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.request import Request

from saas.errors import ValidationFailed
from ui.emails import email_send

from ..context import in_public_schema
from ..errors import InvitationExpired, InvitationInvalid, InvitationUsed, LastOwner, RoleNotAllowed
from ..limits import quota_require
from ..models import Invitation, Membership, Tenant, User
from ..signals import workspace_action_send

INVITATION_SALT = "tenants.invitation"
INVITATION_MAX_AGE = timedelta(days=7)
ROLES = set(Membership.Role.values)
OWNER = Membership.Role.OWNER
MANAGERS = {Membership.Role.OWNER, Membership.Role.ADMIN}


def _field_error(field: str, code: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors={field: [{"code": code, "message": message}]})


def _actor(by: Membership, request: HttpRequest | Request | None) -> User | None:
    """The acting person when no request names the actor (a script, a test); an API key's
    stand-in membership (no user) names nobody: the request does."""
    return by.user if request is None and by.user_id else None


def _require_manager(actor: Membership, *, target_role: str | None = None) -> None:
    if actor.role not in MANAGERS:
        raise RoleNotAllowed("Only owners and admins manage the team.")
    if target_role == OWNER and actor.role != OWNER:
        raise RoleNotAllowed("Only owners can grant, change or remove the owner role.")


def invitation_token(invitation: Invitation) -> str:
    return signing.dumps({"i": invitation.pk, "t": invitation.tenant_id}, salt=INVITATION_SALT)


@in_public_schema
def invitation_create(
    *,
    tenant: Tenant,
    email: str,
    role: str,
    by: Membership,
    accept_url: str,
    request: HttpRequest | Request | None = None,
) -> Invitation:
    """Invite ``email`` as ``role`` and email them the link. ``accept_url`` is a format
    string with ``{token}`` (built from the request by the caller). Inviting the same
    address again replaces the pending invitation (new role, new link)."""
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise _field_error("email", "invalid", "Enter a valid email address.") from exc
    if role not in ROLES:
        raise _field_error("role", "invalid", "Choose owner, admin or agent.")
    _require_manager(by, target_role=role)
    if Membership.objects.filter(tenant=tenant, user__email__iexact=email).exists():
        raise _field_error("email", "already_member", "This person is already a member of the workspace.")

    with transaction.atomic():
        pending = Invitation.objects.select_for_update().filter(
            tenant=tenant, email=email, accepted_at__isnull=True, revoked_at__isnull=True
        )
        for previous in pending:
            _require_manager(by, target_role=previous.role)  # an admin cannot cancel an owner invite
        # A pending invitation holds a seat until it is accepted or revoked; re-inviting the
        # same address replaces its invitation and takes no second seat.
        quota_require(tenant, "seats", used=lambda: seats_taken(tenant, except_email=email))
        pending.update(revoked_at=timezone.now())
        invitation = Invitation.objects.create(tenant=tenant, email=email, role=role, invited_by=by.user)
        workspace_action_send(
            tenant=tenant,
            action="member.invited",
            request=request,
            actor=_actor(by, request),
            target=invitation,
            target_repr=email,
            metadata={"email": email, "role": role},
        )
        link = accept_url.format(token=invitation_token(invitation))
        context = {
            "invitation": invitation,
            "tenant": tenant,
            "inviter": by.user,
            "link": link,
            "days": INVITATION_MAX_AGE.days,
        }
        transaction.on_commit(
            lambda: email_send(
                subject=f"{by.user.email} invited you to {tenant.name}",
                template="tenants/email/invitation",
                context=context,
                to=[email],
            )
        )
    return invitation


@in_public_schema
def invitation_resolve(token: str) -> Invitation:
    """The pending invitation a link names. Raises InvitationInvalid (tampered, unknown,
    revoked), InvitationExpired or InvitationUsed."""
    try:
        data = signing.loads(token, salt=INVITATION_SALT, max_age=INVITATION_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise InvitationExpired("Ask the workspace owner for a new invitation.") from exc
    except signing.BadSignature as exc:
        raise InvitationInvalid() from exc
    invitation = (
        Invitation.objects.select_related("tenant")
        .filter(pk=data.get("i"), tenant_id=data.get("t"), tenant__status=Tenant.Status.ACTIVE)
        .first()
    )
    if invitation is None or invitation.revoked_at is not None:
        raise InvitationInvalid()
    if invitation.accepted_at is not None:
        raise InvitationUsed("Sign in to open the workspace.")
    return invitation


@in_public_schema
def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    """Join the invitation's workspace as ``user``, once. The address must match: the link
    went to that inbox, which also confirms the address for sign-in."""
    if user.email.lower() != invitation.email.lower():
        raise RoleNotAllowed(f"This invitation is for {invitation.email}.")
    with transaction.atomic():
        locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if locked.accepted_at is not None or locked.revoked_at is not None:
            raise InvitationUsed("Sign in to open the workspace.")
        if not Membership.objects.filter(tenant_id=locked.tenant_id, user=user).exists():
            # Its seat was held since the invitation; a downgrade since then may have taken it.
            members = Membership.objects.filter(tenant_id=locked.tenant_id)
            quota_require(locked.tenant, "seats", used=members.count)
        membership, _ = Membership.objects.get_or_create(
            tenant_id=locked.tenant_id, user=user, defaults={"role": locked.role}
        )
        locked.accepted_at = timezone.now()
        locked.save(update_fields=["accepted_at"])
        workspace_action_send(
            tenant=locked.tenant,
            action="member.joined",
            actor=user,
            target=membership,
            target_repr=user.email,
            metadata={"email": user.email, "role": membership.role},
        )
        EmailAddress.objects.update_or_create(
            user=user, email=user.email, defaults={"verified": True, "primary": True}
        )
    return membership


def seats_taken(tenant: Tenant, *, except_email: str = "") -> int:
    """Members plus invitations that can still be accepted (each holds a seat), but
    ``except_email``'s."""
    pending = Invitation.objects.filter(
        tenant=tenant,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        sent_at__gt=timezone.now() - INVITATION_MAX_AGE,
    ).exclude(email=except_email)
    return Membership.objects.filter(tenant=tenant).count() + pending.count()


@in_public_schema
def invitation_revoke(
    *, invitation: Invitation, by: Membership, request: HttpRequest | Request | None = None
) -> None:
    """Cancel a pending invitation (its link stops working). Recorded once, as
    ``member.invitation_revoked``."""
    _require_manager(by, target_role=invitation.role)
    with transaction.atomic():
        revoked = Invitation.objects.filter(
            pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=timezone.now())
        if revoked:
            workspace_action_send(
                tenant=invitation.tenant,
                action="member.invitation_revoked",
                request=request,
                actor=_actor(by, request),
                target=invitation,
                target_repr=invitation.email,
                metadata={"email": invitation.email, "role": invitation.role},
            )


@in_public_schema
def user_create_for_invitation(*, invitation: Invitation, password: str) -> User:
    """An account for an invited person who has none yet (their address is confirmed by the
    link). Raises ValidationFailed with password errors."""
    candidate = User(email=invitation.email)
    try:
        validate_password(password, candidate)
    except ValidationError as exc:
        raise ValidationFailed(
            errors={"password": [{"code": "invalid", "message": m} for m in exc.messages]}
        ) from exc
    if User.objects.filter(email__iexact=invitation.email).exists():
        raise _field_error("email", "exists", "An account with this address exists: sign in to accept.")
    return User.objects.create_user(email=invitation.email, password=password)


def _lock_team(tenant_id: int) -> dict[int, Membership]:
    """Lock every membership of the tenant (in id order, so concurrent changes queue rather
    than deadlock) and return them fresh: role rules are checked on these rows, not on
    whatever the caller loaded earlier."""
    rows = Membership.objects.select_for_update().filter(tenant_id=tenant_id).order_by("pk")
    return {m.pk: m for m in rows}


def _fresh_actor(team: dict[int, Membership], by: Membership) -> Membership:
    if by.pk is None:  # an API key acts with the role it was given
        return by
    actor = team.get(by.pk)
    if actor is None:
        raise RoleNotAllowed("You are no longer a member of this workspace.")
    return actor


@in_public_schema
def membership_role_change(
    *, membership: Membership, role: str, by: Membership, request: HttpRequest | Request | None = None
) -> Membership:
    """Give a member another role (``member.role_changed``, old and new role; nothing is
    recorded when the role stays)."""
    if role not in ROLES:
        raise _field_error("role", "invalid", "Choose owner, admin or agent.")
    with transaction.atomic():
        team = _lock_team(membership.tenant_id)
        target, actor = team.get(membership.pk), _fresh_actor(team, by)
        if target is None:
            raise InvitationInvalid("This member has left the workspace.")
        _require_manager(actor, target_role=OWNER if OWNER in (role, target.role) else role)
        owners = sum(m.role == OWNER for m in team.values())
        if target.role == OWNER and role != OWNER and owners <= 1:
            raise LastOwner("Make someone else an owner first.")
        previous = target.role
        if previous == role:
            return target
        target.role = role
        target.save(update_fields=["role"])
        workspace_action_send(
            tenant=target.tenant,
            action="member.role_changed",
            request=request,
            actor=_actor(by, request),
            target=target,
            target_repr=target.user.email,
            metadata={"email": target.user.email, "role": {"from": previous, "to": role}},
        )
    return target


@in_public_schema
def membership_remove(
    *, membership: Membership, by: Membership, request: HttpRequest | Request | None = None
) -> None:
    """Remove a member from the workspace (``member.removed``)."""
    with transaction.atomic():
        team = _lock_team(membership.tenant_id)
        target, actor = team.get(membership.pk), _fresh_actor(team, by)
        if target is None:
            return  # already gone
        _require_manager(actor, target_role=target.role)
        if target.role == OWNER and sum(m.role == OWNER for m in team.values()) <= 1:
            raise LastOwner("Make someone else an owner first.")
        workspace_action_send(
            tenant=target.tenant,
            action="member.removed",
            request=request,
            actor=_actor(by, request),
            target=target,
            target_repr=target.user.email,
            metadata={"email": target.user.email, "role": target.role},
        )
        target.delete()
