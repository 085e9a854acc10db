"""insights: complete calendar months kept as their own rows, the sum of their days. A long
range (a year) reads them instead of its days, and still equals a scan of the raw rows:
across month boundaries of the workspace's time zone, after late events that land in a
month already summed, run twice, when a month completes, in another time zone."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db.models import Sum

from chat.models import Conversation, Message
from insights.models import AnswerTiming, DailyRollup, MonthlyRollup
from insights.selectors import Period, analytics_summary, analytics_summary_from_rows
from insights.services import midnight, month_after, rollups_refresh
from tests.insights.test_rollups import AGENT, BOT, NOW, TZ, VISITOR, _answer, _conversation, _message
from tests.widget_builder.factories import WidgetFactory

pytestmark = pytest.mark.django_db

YEAR = Period(date(2029, 6, 16), date(2030, 6, 15))  # a year ending today (NOW)
RANGES = (
    YEAR,
    Period(date(2030, 1, 1), date(2030, 6, 15)),  # whole months from the first day
    Period(date(2030, 2, 14), date(2030, 5, 3)),  # parts of months around whole ones
    Period(date(2030, 3, 1), date(2030, 3, 31)),  # exactly one month
    Period(date(2030, 3, 5), date(2030, 3, 20)),  # inside one month
)


def _seed_months(widget, other):
    """Conversations from January to June 14, 2030: one a minute either side of each local
    month boundary (Berlin's midnight, in winter and in summer time), and one every nine
    days with an answer, a handoff now and then, a rating, a thumb."""
    zone = zoneinfo.ZoneInfo(TZ)
    times = []
    for month in range(2, 7):
        boundary = midnight(date(2030, month, 1), zone)
        times += [boundary - timedelta(minutes=1), boundary + timedelta(minutes=1)]
    times += [datetime(2030, 1, 10, 9, 0, tzinfo=UTC) + timedelta(days=9 * i) for i in range(18)]
    for i, at in enumerate(times):
        handoff = at + timedelta(minutes=2) if i % 4 == 0 else None
        w = other if i % 3 == 0 else widget
        c = _conversation(w, at, handoff=handoff, closed=at + timedelta(hours=1), csat=(i % 5) + 1)
        _message(c, VISITOR, at)
        _answer(
            c,
            at + timedelta(seconds=1),
            latency=300 + 7 * i,
            outcome="no_answer" if i % 5 == 0 else "answered",
            feedback_rating=1 if i % 2 else -1,
            feedback_at=at + timedelta(minutes=1),
        )
        if handoff:
            _message(c, AGENT, handoff + timedelta(seconds=40 + i))


def _summaries_equal_scans(time_zone=TZ, ranges=RANGES):
    for period in ranges:
        for widget_id in (
            None,
            *Conversation.objects.order_by().values_list("widget_id", flat=True).distinct(),
        ):
            read = analytics_summary(period=period, time_zone=time_zone, widget_id=widget_id)
            assert read == analytics_summary_from_rows(
                period=period, time_zone=time_zone, widget_id=widget_id
            ), (
                period,
                widget_id,
            )


def _month_rows():
    return sorted(
        MonthlyRollup.objects.values_list(
            "month", "widget_id", "conversations", "visitor_messages", "closed", "csat", "hours", "speed"
        )
    )


def test_complete_months_are_the_sum_of_their_days_and_a_year_equals_the_rows(workspace):
    widget, other = workspace, WidgetFactory(name="Other")
    _seed_months(widget, other)
    rollups_refresh(time_zone=TZ, now=NOW)

    # January to May are complete; June (today's month) is not (the workspace's demo rows
    # are years before)
    assert {m for m, *_ in _month_rows() if m.year == 2030} == {date(2030, m, 1) for m in range(1, 6)}
    for month in MonthlyRollup.objects.all():
        days = DailyRollup.objects.filter(
            widget=month.widget, day__gte=month.month, day__lt=month_after(month.month)
        ).aggregate(c=Sum("conversations"), v=Sum("visitor_messages"))
        assert (month.conversations, month.visitor_messages) == (days["c"], days["v"])
    # the conversation a minute before Berlin's April 1 is March's, the one after April's
    march, april = (
        MonthlyRollup.objects.filter(month=date(2030, m, 1)).aggregate(n=Sum("conversations"))["n"]
        for m in (3, 4)
    )
    assert march == 2 + 3 and april == 2 + 4  # the boundary ones + every ninth day's
    _summaries_equal_scans()
    assert analytics_summary(period=YEAR, time_zone=TZ).figure("conversations").value == 28

    # twice: nothing changes
    rows = _month_rows()
    assert rollups_refresh(time_zone=TZ, now=NOW + timedelta(minutes=5)) == 0
    assert _month_rows() == rows

    # late events in months already summed: a message stored late with its old time (the
    # last minute of Berlin's March), a timing reported now for an April answer, an agent
    # joining a February conversation the bot had resolved
    later = NOW + timedelta(minutes=30)
    zone = zoneinfo.ZoneInfo(TZ)
    late = Conversation.objects.filter(created_at__month=2).first()
    _message(late, VISITOR, midnight(date(2030, 4, 1), zone) - timedelta(seconds=30))
    answer = Message.objects.filter(role=BOT, created_at__month=4, created_at__day__gt=2).first()
    AnswerTiming.objects.create(message=answer, first_token_ms=4321, full_ms=8765, reported_at=later)
    resolved = Conversation.objects.filter(created_at__month=2, handoff_requested_at__isnull=True).first()
    _message(resolved, AGENT, later)
    Conversation.objects.filter(pk=resolved.pk).update(updated_at=later)
    stale = analytics_summary(period=YEAR, time_zone=TZ)
    assert stale != analytics_summary_from_rows(period=YEAR, time_zone=TZ)  # not seen yet
    rollups_refresh(time_zone=TZ, now=NOW + timedelta(hours=1))
    _summaries_equal_scans()
    march_visitors = MonthlyRollup.objects.filter(month=date(2030, 3, 1)).aggregate(n=Sum("visitor_messages"))
    assert march_visitors["n"] == 5 + 1

    # the summary reads the month's row, not its days (the charts' days still come from
    # the daily rows)
    MonthlyRollup.objects.filter(month=date(2030, 3, 1), widget=widget).update(conversations=1000)
    tampered = analytics_summary(period=YEAR, time_zone=TZ)
    assert tampered.figure("conversations").value >= 1000
    assert tampered.daily == analytics_summary_from_rows(period=YEAR, time_zone=TZ).daily


def test_a_month_gets_its_row_when_it_completes(workspace):
    _seed_months(workspace, WidgetFactory(name="Other"))
    c = _conversation(workspace, datetime(2030, 6, 30, 21, 50, tzinfo=UTC))  # June 30, 23:50 in Berlin
    _message(c, VISITOR, datetime(2030, 6, 30, 21, 50, tzinfo=UTC))
    rollups_refresh(time_zone=TZ, now=NOW)
    assert not MonthlyRollup.objects.filter(month=date(2030, 6, 1)).exists()

    july_1 = datetime(2030, 6, 30, 22, 30, tzinfo=UTC)  # 00:30 in Berlin
    rollups_refresh(time_zone=TZ, now=july_1)
    june = MonthlyRollup.objects.filter(month=date(2030, 6, 1)).aggregate(n=Sum("conversations"))["n"]
    assert (
        june
        == Conversation.objects.filter(
            created_at__gte=midnight(date(2030, 6, 1), zoneinfo.ZoneInfo(TZ)), created_at__lt=july_1
        ).count()
    )
    _summaries_equal_scans(
        ranges=(Period(date(2029, 7, 2), date(2030, 7, 1)), Period(date(2030, 6, 1), date(2030, 7, 1)))
    )


def test_another_time_zone_rebuilds_the_months(workspace):
    _seed_months(workspace, WidgetFactory(name="Other"))
    rollups_refresh(time_zone=TZ, now=NOW)
    berlin = _month_rows()
    rollups_refresh(time_zone="America/New_York", now=NOW)
    # the conversations a minute after Berlin's midnight are still the month before in New York
    assert _month_rows() != berlin
    _summaries_equal_scans(time_zone="America/New_York")
