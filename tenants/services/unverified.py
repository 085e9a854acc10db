"""Accounts whose email address was never verified (allauth's mandatory verification: they
could never sign in). UNVERIFIED_ACCOUNT_WARN_DAYS after signing up the person is emailed
once ("verify or your account and workspace will be removed"); once
UNVERIFIED_ACCOUNT_DAYS have passed, and the warning is at least the difference old, the
account goes with the workspaces it created that nobody else used, through
``tenant_delete``. Both steps are in the platform audit log.

A workspace counts as unused when its only member is this person, as its owner, and it has
no invitations and no API keys (none can exist without signing in, unless staff made
them). A person with any other membership, or owning a workspace that was used, is kept
(counted as ``kept_users``): removing them would touch somebody else's work.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime, timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.mail import send_mail
from django.db import models, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from ..context import in_public_schema
from ..models import ApiKey, Invitation, Membership, Tenant, User
from .audit import audit_event_record
from .status import tenant_delete

logger = logging.getLogger(__name__)


def _unverified(*, joined_before: datetime) -> models.QuerySet[User]:
    """People (never staff) who signed up before ``joined_before`` with an address that
    allauth holds and none of whose addresses is verified."""
    addresses = EmailAddress.objects.filter(user=models.OuterRef("pk"))
    return (
        User.objects.filter(is_staff=False, is_superuser=False, date_joined__lt=joined_before)
        .filter(models.Exists(addresses))
        .exclude(models.Exists(addresses.filter(verified=True)))
        .order_by("pk")
    )


def _sign_in_url() -> str:
    path = reverse("account_login", urlconf=settings.PUBLIC_SCHEMA_URLCONF)
    return f"{settings.ACCOUNT_DEFAULT_HTTP_PROTOCOL}://{settings.BASE_DOMAIN}{path}"


def _warning_send(email: str, removal_at: datetime, workspaces: list[str]) -> None:
    try:
        send_mail(
            "Verify your email address or your account will be removed",
            render_to_string(
                "tenants/email/unverified_warning.txt",
                {"removal_at": removal_at, "workspaces": workspaces, "sign_in_url": _sign_in_url()},
            ),
            settings.DEFAULT_FROM_EMAIL,
            [email],
        )
    except Exception:  # the warning is recorded as sent (once); a refused mail is logged
        logger.exception("unverified accounts: the warning to user could not be sent")


@in_public_schema
def unverified_accounts_warn(*, now: datetime | None = None) -> int:
    """Email each unverified person once, UNVERIFIED_ACCOUNT_WARN_DAYS after signing up (the
    mail goes after the commit that records it, so never twice). Returns how many."""
    now = now or timezone.now()
    warn_before = now - timedelta(days=settings.UNVERIFIED_ACCOUNT_WARN_DAYS)
    warned = 0
    for user_id in (
        _unverified(joined_before=warn_before)
        .filter(unverified_warned_at__isnull=True)
        .values_list("pk", flat=True)[: settings.HOUSEKEEPING_BATCH_SIZE]
    ):
        with transaction.atomic():
            user = (
                User.objects.select_for_update(skip_locked=True)
                .filter(pk=user_id, unverified_warned_at__isnull=True)
                .first()
            )
            if user is None:
                continue
            user.unverified_warned_at = now
            user.save(update_fields=["unverified_warned_at"])
            workspaces = list(
                Tenant.objects.filter(memberships__user=user, memberships__role=Membership.Role.OWNER)
                .order_by("name")
                .values_list("name", flat=True)
            )
            audit_event_record(actor=None, action="user.unverified_warned", target=user)
            removal_at = user.date_joined + timedelta(days=settings.UNVERIFIED_ACCOUNT_DAYS)
            transaction.on_commit(functools.partial(_warning_send, user.email, removal_at, workspaces))
        warned += 1
    return warned


def _workspaces_removable(user: User) -> list[Tenant] | None:
    """The workspaces ``user`` owns, if every one of their memberships is such an unused
    workspace's; None when removing them would touch somebody else's work."""
    memberships = list(Membership.objects.filter(user=user).select_related("tenant"))
    tenants = [m.tenant for m in memberships]
    if any(m.role != Membership.Role.OWNER for m in memberships):
        return None
    ids = [t.pk for t in tenants]
    used = (
        Membership.objects.filter(tenant_id__in=ids).exclude(user=user).exists()
        or Invitation.objects.filter(tenant_id__in=ids).exists()
        or ApiKey.objects.filter(tenant_id__in=ids).exists()
    )
    return None if used else tenants


def _remove_one(user: User) -> int | None:
    """Remove ``user`` and their unused workspaces; the workspaces removed, or None when
    they are kept (somebody else's work would go with them)."""
    tenants = _workspaces_removable(user)
    if tenants is None:
        return None
    for tenant in tenants:
        tenant_delete(tenant=tenant, by=None)
    with transaction.atomic():
        audit_event_record(
            actor=None,
            action="user.unverified_removed",
            target=user,
            metadata={
                "workspaces": [t.schema_name for t in tenants],
                "date_joined": user.date_joined.isoformat(),
            },
        )
        user.delete()
    return len(tenants)


@in_public_schema
def unverified_accounts_remove(*, now: datetime | None = None) -> dict[str, int]:
    """Remove the people unverified for UNVERIFIED_ACCOUNT_DAYS who were warned at least
    (UNVERIFIED_ACCOUNT_DAYS - UNVERIFIED_ACCOUNT_WARN_DAYS) days ago, with their unused
    workspaces (``tenant_delete`` each, then the account with its audit event). Each person
    is checked again just before (an address verified meanwhile saves them). A removal that
    fails half-way leaves the account (logged, ``failed_users``): the next run finishes it."""
    now = now or timezone.now()
    notice = timedelta(days=settings.UNVERIFIED_ACCOUNT_DAYS - settings.UNVERIFIED_ACCOUNT_WARN_DAYS)
    due = _unverified(joined_before=now - timedelta(days=settings.UNVERIFIED_ACCOUNT_DAYS)).filter(
        unverified_warned_at__lte=now - notice
    )
    counts = {"removed_users": 0, "removed_workspaces": 0, "kept_users": 0, "failed_users": 0}
    after = 0
    # Keyset pages: people kept stay due, and must not hold back those after them.
    while ids := list(
        due.filter(pk__gt=after).values_list("pk", flat=True)[: settings.HOUSEKEEPING_BATCH_SIZE]
    ):
        after = ids[-1]
        for user in due.filter(pk__in=ids):
            try:
                removed = _remove_one(user)
            except Exception:
                logger.exception("unverified accounts: removing user %s failed", user.pk)
                counts["failed_users"] += 1
                continue
            if removed is None:
                counts["kept_users"] += 1
            else:
                counts["removed_users"] += 1
                counts["removed_workspaces"] += removed
    return counts


def unverified_accounts_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """The daily job: warnings first, then removals."""
    return {"warned_users": unverified_accounts_warn(now=now), **unverified_accounts_remove(now=now)}
