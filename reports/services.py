"""Writes of the reports app: a member's choice, the reports due (sent by the beat task),
one sent on request, and the unsubscribe link's answer.

Sending moves the person's marker (``ReportSubscription.sent_through``) with a
compare-and-set before the email goes out, so overlapping runs never send a period twice;
a send that fails puts the marker back, so the next run tries again.
Preconditions: the tenant's schema is active.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from chat.notifications import workspace_url
from insights.selectors import Period
from saas.errors import ValidationFailed
from tenants.dashboard import MANAGERS
from tenants.models import Membership, Tenant, User
from ui.emails import email_send

from .content import Report, report_build
from .models import ReportSubscription
from .schedule import due_period, latest_period
from .selectors import report_subscription_of

logger = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "reports.unsubscribe"
Frequency = ReportSubscription.Frequency


def report_subscription_set(*, user_id: int, frequency: str) -> ReportSubscription:
    """Store the member's choice of report."""
    if frequency not in Frequency.values:
        choose = {"code": "invalid_choice", "message": "Choose off, daily or weekly."}
        raise ValidationFailed(errors={"frequency": [choose]})
    with transaction.atomic():
        subscription, _ = ReportSubscription.objects.select_for_update().get_or_create(user_id=user_id)
        subscription.frequency = frequency
        subscription.save(update_fields=["frequency", "updated_at"])
    return subscription


def unsubscribe_token(*, tenant: Tenant, user_id: int) -> str:
    return signing.dumps({"t": tenant.pk, "u": user_id}, salt=UNSUBSCRIBE_SALT)


def unsubscribe_user_id(*, tenant: Tenant, token: str) -> int | None:
    """The member an unsubscribe link was made for, if it is genuine and of this workspace."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    user_id = data.get("u") if isinstance(data, dict) and data.get("t") == tenant.pk else None
    return user_id if isinstance(user_id, int) else None


def report_unsubscribe(*, tenant: Tenant, token: str) -> bool:
    """Turn the link's member's reports off; False for a link that is not genuine."""
    user_id = unsubscribe_user_id(tenant=tenant, token=token)
    if user_id is None:
        return False
    report_subscription_set(user_id=user_id, frequency=Frequency.OFF)
    return True


def _report_send(report: Report, *, tenant: Tenant, person: User) -> int:
    unsubscribe = workspace_url(
        tenant, reverse("reports:unsubscribe", args=[unsubscribe_token(tenant=tenant, user_id=person.pk)])
    )
    return email_send(
        subject=report.subject,
        template="reports/email/report",
        context={"report": report, "unsubscribe_url": unsubscribe, "person": person},
        to=[person.email],
        # One-click unsubscribe (RFC 8058): mail clients POST to the link.
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )


def _managers(tenant: Tenant) -> list[User]:
    rows = Membership.objects.filter(tenant=tenant, role__in=MANAGERS, user__is_active=True).exclude(
        user__email=""
    )
    return [m.user for m in rows.select_related("user").order_by("user_id")]


def _claim(user_id: int, through: date) -> ReportSubscription | None:
    """Move the member's marker to ``through`` unless a run did already; the row as it was."""
    subscription, _ = ReportSubscription.objects.get_or_create(user_id=user_id)
    earlier = Q(sent_through__isnull=True) | Q(sent_through__lt=through)
    claimed = ReportSubscription.objects.filter(earlier, pk=subscription.pk).update(sent_through=through)
    return subscription if claimed else None


def reports_send_due(*, tenant: Tenant, now: datetime | None = None) -> int:
    """Send the reports due now to the workspace's owners and admins; returns how many were
    sent. A period with no conversations and no visitor messages sends nothing."""
    local_now = timezone.localtime(now or timezone.now(), ZoneInfo(tenant.time_zone))
    people = _managers(tenant)
    stored = {s.user_id: s for s in ReportSubscription.objects.filter(user_id__in=[p.pk for p in people])}
    built: dict[tuple[str, Period], Report] = {}
    sent = 0
    for person in people:
        choice = stored.get(person.pk) or ReportSubscription(user_id=person.pk)
        period = due_period(choice.frequency, choice.sent_through, local_now, settings.REPORTS_SEND_HOUR)
        if period is None:
            continue
        before = _claim(person.pk, period.last)
        if before is None:
            continue
        key = (choice.frequency, period)
        try:
            report = built.get(key) or report_build(tenant=tenant, frequency=choice.frequency, period=period)
            built[key] = report
            if not report.quiet:
                sent += _report_send(report, tenant=tenant, person=person)
        except Exception:
            logger.exception("reports: sending to user %s failed in %s", person.pk, tenant.schema_name)
            ReportSubscription.objects.filter(pk=before.pk, sent_through=period.last).update(
                sent_through=before.sent_through
            )
    return sent


def report_send_now(*, tenant: Tenant, person: User) -> int:
    """Send ``person`` the report of the latest whole period of their choice (a week when
    their reports are off), whatever was sent before; nothing is marked sent."""
    choice = report_subscription_of(person.pk)
    today = timezone.localtime(timezone.now(), ZoneInfo(tenant.time_zone)).date()
    frequency = choice.frequency if choice.frequency != Frequency.OFF else Frequency.WEEKLY
    report = report_build(tenant=tenant, frequency=frequency, period=latest_period(frequency, today))
    return _report_send(report, tenant=tenant, person=person)
