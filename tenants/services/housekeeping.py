"""The public schema's housekeeping: sessions past their expiry (Django's
``clearsessions``, a batch at a time), allauth's expired email confirmations, hand-offs
nobody can use any more, invitations long past their link's expiry, and staff support
grants that ended long ago. Each purge deletes in short batches (``tenants.batches``), is
idempotent, and returns what it removed."""

from __future__ import annotations

from datetime import datetime, timedelta

from allauth.account.models import EmailConfirmation
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import models
from django.utils import timezone

from ..batches import batched_delete
from ..context import in_public_schema
from ..models import Invitation, SupportAccess
from .handoffs import login_handoff_purge
from .team import INVITATION_MAX_AGE


@in_public_schema
def sessions_expired_purge(*, now: datetime | None = None) -> int:
    """Sessions whose expiry has passed (nobody can use them: Django refuses them too)."""
    return batched_delete(Session.objects.filter(expire_date__lt=now or timezone.now()), what="sessions")


@in_public_schema
def email_confirmations_expired_purge() -> int:
    """allauth's stored confirmation keys past ``ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS``
    (none are stored while its HMAC keys are used, the default)."""
    expired = EmailConfirmation.objects.all_expired()
    return batched_delete(expired, what="email confirmations")


@in_public_schema
def invitations_expired_purge(*, now: datetime | None = None) -> int:
    """Invitations sent more than the link's 7 days plus INVITATION_KEEP_DAYS ago, whatever
    became of them: an accepted one lives on as the membership, a pending one can no longer
    be accepted (the team page shows it as expired meanwhile)."""
    cutoff = (now or timezone.now()) - INVITATION_MAX_AGE - timedelta(days=settings.INVITATION_KEEP_DAYS)
    return batched_delete(Invitation.objects.filter(sent_at__lt=cutoff), what="invitations")


@in_public_schema
def support_accesses_expired_purge(*, now: datetime | None = None) -> int:
    """Staff support grants that ended (or expired) more than SUPPORT_ACCESS_KEEP_DAYS ago;
    their start and end stay in the platform audit log."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.SUPPORT_ACCESS_KEEP_DAYS)
    over = models.Q(ended_at__lt=cutoff) | models.Q(ended_at__isnull=True, expires_at__lt=cutoff)
    return batched_delete(SupportAccess.objects.filter(over), what="support accesses")


def public_sessions_purge() -> dict[str, int]:
    """Every purge above and the hand-offs' (the hourly ``tenants-housekeeping``)."""
    return {
        "expired_sessions": sessions_expired_purge(),
        "expired_email_confirmations": email_confirmations_expired_purge(),
        "purged_handoffs": login_handoff_purge(),
        "expired_invitations": invitations_expired_purge(),
        "expired_support_accesses": support_accesses_expired_purge(),
    }
