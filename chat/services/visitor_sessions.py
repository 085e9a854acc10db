"""Expired visitor sessions. The widget's visitor session is a signed bearer token
(``chat.visitor_tokens``, valid 30 days, renewed while the visitor comes back) naming a
``Contact`` row; the token itself is stored nowhere. A contact that told us nothing (no
name, email, phone, identity, prechat answers or consent), has no conversation, and was
last seen more than VISITOR_SESSION_KEEP_DAYS ago can never be used again (every token
naming it has expired): it is deleted. Contacts holding anything stay for the workspace's
retention rules. Preconditions: the tenant's schema is active."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from tenants.batches import batched_delete

from ..models import Contact, Conversation


def visitor_sessions_expired(*, now: datetime | None = None) -> models.QuerySet[Contact]:
    cutoff = (now or timezone.now()) - timedelta(days=settings.VISITOR_SESSION_KEEP_DAYS)
    return Contact.objects.filter(
        last_seen_at__lt=cutoff,
        name="",
        email="",
        phone="",
        external_id="",
        answers={},
        consent_given_at__isnull=True,
        prechat_submitted_at__isnull=True,
    ).exclude(models.Exists(Conversation.objects.filter(contact=models.OuterRef("pk"))))


def visitor_sessions_expire(*, now: datetime | None = None) -> int:
    """Delete the expired visitor sessions (a batch per short transaction); returns how many."""
    return batched_delete(visitor_sessions_expired(now=now), what="chat: visitor sessions")
