"""reports.services and the beat task: owners and admins get the report of their choice,
once per period, in the workspace's time zone, with the figures of the Analytics page and
the top unanswered questions; agents get none; a quiet period sends nothing; a failed
send is tried again."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone
from django_tenants.utils import tenant_context

from chat.models import Conversation, Message
from insights.selectors import Period, analytics_summary
from reports import services, tasks
from reports.models import ReportSubscription
from tests.chat.factories import ConversationFactory, MessageFactory
from tests.emails import assert_product_email
from tests.quality.conftest import flag
from tests.tenants.factories import MembershipFactory, UserFactory
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db

# A Monday three weeks back, 09:00 in the workspace: the weekly report covers the week
# before it, far from the seeded rows (made now).
ZONE = "America/New_York"


def monday_morning(hour: int = 9) -> datetime:
    today = timezone.localtime(timezone.now(), ZoneInfo(ZONE)).date()
    monday = today - timedelta(days=today.weekday() + 21)
    return datetime(monday.year, monday.month, monday.day, hour, 0, tzinfo=ZoneInfo(ZONE))


def week_before(now: datetime) -> Period:
    last = now.date() - timedelta(days=1)
    return Period(last - timedelta(days=6), last)


def traffic(widget: Widget, day: date, conversations: int) -> None:
    """``conversations`` on ``day`` (noon, workspace time), each a question and its answer."""
    at = datetime(day.year, day.month, day.day, 12, tzinfo=ZoneInfo(ZONE))
    for i in range(conversations):
        conversation = ConversationFactory(widget=widget)
        question = MessageFactory(conversation=conversation, role=Message.Role.VISITOR, text=f"Question {i}")
        MessageFactory(conversation=conversation, role=Message.Role.BOT, text="An answer.", reply_to=question)
        Conversation.objects.filter(pk=conversation.pk).update(created_at=at)
        Message.objects.filter(conversation=conversation).update(created_at=at)


@pytest.fixture
def workspace(tenant_a):
    """Tenant A in New York time, its owner's reports at their default (weekly)."""
    tenant = tenant_a.tenant
    tenant.time_zone = ZONE
    tenant.save(update_fields=["time_zone"])
    mail.outbox.clear()
    with tenant_context(tenant):
        yield tenant_a


def test_the_owner_gets_last_weeks_report_with_the_pages_figures(workspace):
    now = monday_morning()
    week = week_before(now)
    widget = Widget.objects.first()
    traffic(widget, week.first, 3)
    traffic(widget, week.last, 2)
    traffic(widget, week.first - timedelta(days=1), 4)  # the week before: 5 against 4
    first_noon = datetime.combine(week.first, datetime.min.time(), ZoneInfo(ZONE)) + timedelta(hours=15)
    for _ in range(3):
        flag(widget, "Do you ship to Norway?", at=first_noon)
    flag(widget, "Can I pay by cheque?", "thumbs_down", at=first_noon + timedelta(days=6))

    assert services.reports_send_due(tenant=workspace.tenant, now=now) == 1

    [message] = mail.outbox
    assert message.to == [workspace.owner.email]
    summary = analytics_summary(period=week, time_zone=ZONE)
    conversations = summary.figure("conversations")
    assert conversations.value == 5 and conversations.previous == 4
    assert message.subject == f"Weekly report for {workspace.tenant.name}: 5 conversations (+25%)"
    text, _ = assert_product_email(
        message,
        "Do you ship to Norway?",
        "Can I pay by cheque?",
        f"?from={week.first.isoformat()}&to={week.last.isoformat()}",
        "/dashboard/analytics/reports/",
    )
    # Every key figure as the Analytics page shows it, with its change.
    for key in ("conversations", "ai_answers", "deflection", "no_answer_rate", "handoffs", "csat"):
        figure = summary.figure(key)
        line = f"{figure.label}: {figure.shown}"
        if figure.change is not None:
            line += f" ({'+' if figure.change > 0 else ''}{figure.change}%)"
        assert line in text, (line, text)
    # The most asked first, with its count.
    assert text.index("Do you ship to Norway? (x3)") < text.index("Can I pay by cheque? (x1)")
    unsubscribe = message.extra_headers["List-Unsubscribe"]
    assert unsubscribe.startswith("<https://") and "/reports/unsubscribe/" in unsubscribe
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe[1:-1] in text


def test_a_period_is_sent_once_even_by_overlapping_runs(workspace):
    now = monday_morning()
    traffic(Widget.objects.first(), week_before(now).first, 1)
    assert services.reports_send_due(tenant=workspace.tenant, now=now) == 1
    assert services.reports_send_due(tenant=workspace.tenant, now=now + timedelta(hours=3)) == 0
    assert len(mail.outbox) == 1
    assert ReportSubscription.objects.get(user_id=workspace.owner.pk).sent_through == week_before(now).last


def test_nothing_is_sent_before_the_hour_in_the_workspaces_time_zone(workspace):
    now = monday_morning(hour=settings.REPORTS_SEND_HOUR - 1)  # 07:00 in New York, 12:00 UTC
    traffic(Widget.objects.first(), week_before(now).first, 1)
    assert services.reports_send_due(tenant=workspace.tenant, now=now) == 0
    assert services.reports_send_due(tenant=workspace.tenant, now=now + timedelta(hours=1)) == 1


def test_daily_reports_cover_yesterday(workspace):
    now = monday_morning()
    services.report_subscription_set(user_id=workspace.owner.pk, frequency="daily")
    sunday = now.date() - timedelta(days=1)
    traffic(Widget.objects.first(), sunday, 2)
    traffic(Widget.objects.first(), sunday - timedelta(days=1), 1)
    assert services.reports_send_due(tenant=workspace.tenant, now=now) == 1
    [message] = mail.outbox
    assert message.subject == f"Daily report for {workspace.tenant.name}: 2 conversations (+100%)"
    assert "Your bot yesterday" in message.body
    # The next morning: Monday had no traffic, so nothing is sent, and nothing is owed.
    assert services.reports_send_due(tenant=workspace.tenant, now=now + timedelta(days=1)) == 0
    assert ReportSubscription.objects.get(user_id=workspace.owner.pk).sent_through == now.date()


def test_owners_and_admins_only_each_with_their_choice(workspace):
    now = monday_morning()
    traffic(Widget.objects.first(), week_before(now).first, 1)
    admin = MembershipFactory(tenant=workspace.tenant, role="admin").user
    quiet_admin = MembershipFactory(tenant=workspace.tenant, role="admin").user
    MembershipFactory(tenant=workspace.tenant, role="agent")
    services.report_subscription_set(user_id=quiet_admin.pk, frequency="off")
    assert services.reports_send_due(tenant=workspace.tenant, now=now) == 2
    assert sorted(m.to[0] for m in mail.outbox) == sorted([workspace.owner.email, admin.email])


def test_a_quiet_week_sends_nothing(workspace):
    assert services.reports_send_due(tenant=workspace.tenant, now=monday_morning()) == 0
    assert mail.outbox == []


def test_a_failed_send_is_tried_again_by_the_next_run(workspace, monkeypatch):
    now = monday_morning()
    traffic(Widget.objects.first(), week_before(now).first, 1)

    def down(*args, **kwargs):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr(services, "email_send", down)
    assert services.reports_send_due(tenant=workspace.tenant, now=now) == 0
    assert ReportSubscription.objects.get(user_id=workspace.owner.pk).sent_through is None
    monkeypatch.undo()
    assert services.reports_send_due(tenant=workspace.tenant, now=now + timedelta(minutes=15)) == 1


def test_the_beat_task_sends_in_every_active_workspace(tenant_a, tenant_b, monkeypatch):
    sent: list[str] = []
    monkeypatch.setattr(tasks, "reports_send_due", lambda *, tenant: sent.append(tenant.schema_name) or 1)
    assert tasks.reports_send_all.apply().get() >= 2
    assert {tenant_a.schema, tenant_b.schema} <= set(sent)
    assert settings.CELERY_BEAT_SCHEDULE["reports-send"]["task"] == "reports.tasks.reports_send_all"


def test_an_unknown_user_id_in_a_subscription_is_harmless(workspace):
    """A member who left keeps their row; nothing is sent to them."""
    gone = UserFactory()
    ReportSubscription.objects.create(user_id=gone.pk, frequency="daily")
    now = monday_morning()
    traffic(Widget.objects.first(), week_before(now).first, 1)
    assert services.reports_send_due(tenant=workspace.tenant, now=now) == 1
    assert [m.to for m in mail.outbox] == [[workspace.owner.email]]
