"""insights: every analytics figure counted from rows the test made (by hand), and the same
figures read from the daily rollups (plus today's rows) equal to a scan of the raw rows,
across a day boundary of the workspace's time zone, after late events, run twice."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django_tenants.utils import tenant_context

from chat.models import Conversation, Message
from insights.facts import Spread
from insights.models import AnswerTiming, DailyRollup, RollupState
from insights.selectors import (
    Period,
    analytics_summary,
    analytics_summary_from_rows,
    percentile,
)
from insights.services import answer_timing_report, rollups_refresh
from knowledge.models import Source
from tests.chat.factories import ConversationFactory, MessageFactory
from tests.knowledge.factories import SourceFactory
from tests.widget_builder.factories import WidgetFactory

pytestmark = pytest.mark.django_db

TZ = "Europe/Berlin"
NOW = datetime(2030, 6, 15, 10, 0, tzinfo=UTC)  # noon in Berlin, far from the seeded rows
MIDNIGHT = datetime(2030, 6, 14, 22, 0, tzinfo=UTC)  # June 15, 00:00 in Berlin (summer time)
VISITOR, BOT, AGENT = Message.Role.VISITOR, Message.Role.BOT, Message.Role.AGENT


def _conversation(widget, at, *, handoff=None, closed=None, csat=None, csat_at=None):
    conversation = ConversationFactory(widget=widget)
    Conversation.objects.filter(pk=conversation.pk).update(
        created_at=at,
        handoff_requested_at=handoff,
        closed_at=closed,
        csat_score=csat,
        csat_at=csat_at or (closed if csat else None),
    )
    return conversation


def _message(conversation, role, at, **fields):
    message = MessageFactory(conversation=conversation, role=role, **fields)
    Message.objects.filter(pk=message.pk).update(created_at=at)
    return message


def _answer(conversation, at, *, outcome="answered", latency=None, provider="offline", sources=(), **fields):
    citations = [{"n": i + 1, "title": "t", "url": "", "source_id": pk} for i, pk in enumerate(sources)]
    return _message(
        conversation,
        BOT,
        at,
        outcome=outcome,
        latency_ms=latency,
        provider=provider,
        citations=citations,
        **fields,
    )


def test_every_figure_is_counted_from_the_rows(workspace):
    widget = workspace
    pricing, returns = SourceFactory(title="Pricing"), SourceFactory(title="Returns")
    day = MIDNIGHT  # June 15 (today) starts
    # 1. the bot alone: two answers (one reported by the widget), a thumbs-up
    one = _conversation(widget, day + timedelta(hours=1))
    _message(one, VISITOR, day + timedelta(hours=1))
    first = _answer(one, day + timedelta(hours=1), latency=400, sources=[pricing.pk, returns.pk])
    answer_timing_report(message=first, first_token_ms=700, full_ms=2500)
    _message(one, VISITOR, day + timedelta(hours=1, minutes=5))
    _answer(one, day + timedelta(hours=1, minutes=5), latency=900, sources=[pricing.pk, pricing.pk])
    Message.objects.filter(pk=first.pk).update(feedback_rating=1, feedback_at=day + timedelta(hours=2))
    # 2. no answer, handoff, agent reply after 90 s, resolved after 10 min, rated 4
    handoff_at = day + timedelta(hours=3)
    two = _conversation(
        widget,
        day + timedelta(hours=3),
        handoff=handoff_at,
        closed=handoff_at + timedelta(minutes=10),
        csat=4,
    )
    _message(two, VISITOR, day + timedelta(hours=3))
    no = _answer(two, day + timedelta(hours=3), outcome="no_answer")
    Message.objects.filter(pk=no.pk).update(feedback_rating=-1, feedback_at=day + timedelta(hours=3))
    _message(two, AGENT, handoff_at + timedelta(seconds=90))
    # 3. a bot conversation an agent later joined (not resolved by the bot), closed without a rating
    three = _conversation(widget, day + timedelta(hours=3), closed=day + timedelta(hours=4))
    _message(three, VISITOR, day + timedelta(hours=3))
    _answer(three, day + timedelta(hours=3), latency=100, provider="openai")
    _message(three, AGENT, day + timedelta(hours=3, minutes=1))
    # the evening before in Berlin (21:59 UTC): yesterday, the previous period
    before = _conversation(widget, MIDNIGHT - timedelta(minutes=1))
    _message(before, VISITOR, MIDNIGHT - timedelta(minutes=1))
    _answer(before, MIDNIGHT - timedelta(minutes=1), latency=300)

    summary = analytics_summary_from_rows(
        period=Period(date(2030, 6, 15), date(2030, 6, 15)), time_zone=TZ, widget_id=widget.pk
    )
    figures = {f.key: (f.value, f.previous) for f in summary.figures}
    assert figures["conversations"] == (3, 1)
    assert figures["visitor_messages"] == (4, 1)
    assert figures["ai_answers"] == (3, 1)
    assert figures["deflection"] == (pytest.approx(100 / 3), 100)
    assert figures["handoffs"] == (1, 0)
    assert figures["no_answer_rate"] == (25, 0)
    assert figures["first_response"] == (90, None)
    assert figures["resolution"] == (600, None)
    assert figures["csat"] == (4, None)
    assert figures["csat_rate"] == (50, None)  # one rating, two resolved
    assert (figures["thumbs_up"], figures["thumbs_down"]) == ((1, 0), (1, 0))
    assert figures["first_token_p50"] == (700, 300)  # 100, 700 (reported, not 400), 900
    assert summary.csat == [(1, 0), (2, 0), (3, 0), (4, 1), (5, 0)]
    assert summary.daily == [(date(2030, 6, 15), 3)]
    saturday = date(2030, 6, 15).weekday()
    assert summary.heat[saturday][1] == 2 and summary.heat[saturday][3] == 2  # Berlin's hours
    assert sum(map(sum, summary.heat)) == 4
    assert [(s.title, s.answers) for s in summary.sources] == [("Pricing", 2), ("Returns", 1)]
    speeds = {s.provider: s for s in summary.speed}
    assert (
        speeds["offline"].answers,
        speeds["offline"].first_token_p50,
        speeds["offline"].first_token_p95,
    ) == (2, 700, 900)
    assert (speeds["offline"].reported, speeds["offline"].full_p50) == (1, 2500)
    assert speeds["openai"].first_token_p95 == 100 and speeds["openai"].full_p50 is None


def test_percentiles_are_exact_from_a_histogram():
    from collections import Counter

    values = [5, 1, 9, 3, 3, 7, 2, 8, 4, 6] * 3 + [100]
    histogram = Counter(values)
    ordered = sorted(values)
    for p in (1, 50, 90, 95, 99, 100):
        rank = -(-p * len(values) // 100)
        assert percentile(histogram, p) == ordered[rank - 1]
    assert percentile(Counter(), 50) is None
    # the same from parts (one a day) that are never merged
    spread = Spread()
    for part in (values[:7], values[7:20], values[20:]):
        day = Spread()
        for value in part:
            day.count(value, 1)
        spread.extend(day)
    for p in (1, 50, 90, 95, 99, 100):
        assert spread.percentile(p) == percentile(histogram, p)
    assert Spread.loaded(spread.stored()).percentile(95) == percentile(histogram, 95)
    assert Spread().percentile(50) is None


def _seed_days(widget, other):
    """Conversations over the ten days before NOW, some around Berlin's midnight."""
    for i in range(10):
        at = MIDNIGHT - timedelta(days=i, minutes=1 if i % 2 else -1)  # 23:59 or 00:01 in Berlin
        for w in (widget, other) if i % 3 == 0 else (widget,):
            handoff = at + timedelta(minutes=2) if i % 4 == 0 else None
            c = _conversation(
                w, at, handoff=handoff, closed=at + timedelta(hours=1), csat=(i % 5) + 1 if i % 2 else None
            )
            _message(c, VISITOR, at)
            _answer(
                c,
                at + timedelta(seconds=1),
                latency=200 + 10 * i,
                outcome="answered" if i % 3 else "no_answer",
            )
            if handoff:
                _message(c, AGENT, handoff + timedelta(seconds=30 + i))


def _both(period, widget_id=None):
    return (
        analytics_summary(period=period, time_zone=TZ, widget_id=widget_id),
        analytics_summary_from_rows(period=period, time_zone=TZ, widget_id=widget_id),
    )


def _rows():
    return sorted(
        DailyRollup.objects.values_list(
            "day",
            "widget_id",
            "conversations",
            "bot_resolved",
            "visitor_messages",
            "ai_answers",
            "no_answer",
            "handoffs",
            "closed",
            "first_response_s",
            "resolution_s",
            "csat",
            "hours",
            "sources",
            "speed",
        )
    )


def test_rollups_plus_today_equal_the_raw_rows(workspace):
    widget, other = workspace, WidgetFactory(name="Other")
    _seed_days(widget, other)
    period = Period(date(2030, 6, 6), date(2030, 6, 15))

    assert rollups_refresh(time_zone=TZ, now=NOW) > 0
    state = RollupState.objects.get()
    assert state.rolled_until == date(2030, 6, 15)  # today is read from the rows
    assert DailyRollup.objects.filter(day=date(2030, 6, 14), widget=widget).exists()
    assert not DailyRollup.objects.filter(day=date(2030, 6, 15)).exists()
    for widget_id in (None, widget.pk, other.pk):
        read, scanned = _both(period, widget_id)
        assert read == scanned
    assert read.figure("conversations").value > 0

    # the page reads the rollup: a changed row shows (and would be rewritten by a change)
    DailyRollup.objects.filter(day=date(2030, 6, 14), widget=widget).update(conversations=1000)
    assert analytics_summary(period=period, time_zone=TZ).figure("conversations").value >= 1000
    DailyRollup.objects.all().delete()
    RollupState.objects.all().delete()
    rollups_refresh(time_zone=TZ, now=NOW)

    # twice: nothing changes
    rows = _rows()
    rollups_refresh(time_zone=TZ, now=NOW + timedelta(minutes=5))
    assert _rows() == rows

    # late events, after the run: a message stored late with its old time (June 10), an
    # agent joining a conversation the bot had resolved three days ago, a rating and a
    # thumbs-down given now on older conversations, a timing reported for an old answer
    later = NOW + timedelta(minutes=30)
    old = Conversation.objects.filter(widget=widget, created_at__lt=MIDNIGHT - timedelta(days=4)).first()
    _message(old, VISITOR, datetime(2030, 6, 9, 23, 30, tzinfo=UTC))  # June 10, 01:30 in Berlin
    resolved = Conversation.objects.filter(
        widget=widget, handoff_requested_at__isnull=True, created_at__lt=MIDNIGHT - timedelta(days=2)
    ).first()
    _message(resolved, AGENT, later)
    Conversation.objects.filter(pk=resolved.pk).update(updated_at=later)
    rated = Conversation.objects.filter(widget=widget, csat_score__isnull=True).first()
    Conversation.objects.filter(pk=rated.pk).update(csat_score=1, csat_at=later, updated_at=later)
    answer = Message.objects.filter(conversation__widget=widget, role=BOT).order_by("created_at").first()
    Message.objects.filter(pk=answer.pk).update(feedback_rating=-1, feedback_at=later)
    AnswerTiming.objects.create(message=answer, first_token_ms=1234, full_ms=5678, reported_at=later)

    stale, scanned = _both(period)
    assert stale != scanned  # the rollup has not seen them yet
    assert rollups_refresh(time_zone=TZ, now=NOW + timedelta(hours=1)) >= 2
    for widget_id in (None, widget.pk):
        read, scanned = _both(period, widget_id)
        assert read == scanned
    june_10 = DailyRollup.objects.get(day=date(2030, 6, 10), widget=widget)
    assert june_10.visitor_messages == 1 and june_10.hours[1] == 1  # its day, its hour

    # today's figures are cached while nothing changes; any new row shows at once
    before = analytics_summary(period=period, time_zone=TZ, widget_id=widget.pk)
    assert analytics_summary(period=period, time_zone=TZ, widget_id=widget.pk) == before
    c = _conversation(widget, NOW + timedelta(hours=1))
    _message(c, VISITOR, NOW + timedelta(hours=1))
    after, scanned = _both(period, widget.pk)
    assert (
        after == scanned and after.figure("conversations").value == before.figure("conversations").value + 1
    )
    Conversation.objects.filter(pk=c.pk).update(csat_score=5, csat_at=NOW + timedelta(hours=2))
    assert _both(period, widget.pk)[0].csat[4] == (5, before.csat[4][1] + 1)

    # a new day: yesterday (June 15) gets its rows
    rollups_refresh(time_zone=TZ, now=NOW + timedelta(days=1))
    assert DailyRollup.objects.filter(day=date(2030, 6, 15)).exists()
    read, scanned = _both(Period(date(2030, 6, 1), date(2030, 6, 16)))
    assert read == scanned


def test_another_time_zone_rebuilds_the_rollups(workspace):
    _seed_days(workspace, WidgetFactory(name="Other"))
    rollups_refresh(time_zone=TZ, now=NOW)
    rollups_refresh(time_zone="America/New_York", now=NOW)
    assert RollupState.objects.get().time_zone == "America/New_York"
    read, scanned = (
        analytics_summary(period=Period(date(2030, 6, 1), date(2030, 6, 15)), time_zone="America/New_York"),
        analytics_summary_from_rows(
            period=Period(date(2030, 6, 1), date(2030, 6, 15)), time_zone="America/New_York"
        ),
    )
    assert read == scanned
    # until the next run, a summary in yet another zone is computed from the rows
    other = analytics_summary(period=Period(date(2030, 6, 1), date(2030, 6, 15)), time_zone="Asia/Tokyo")
    assert other == analytics_summary_from_rows(
        period=Period(date(2030, 6, 1), date(2030, 6, 15)), time_zone="Asia/Tokyo"
    )


def test_the_task_refreshes_every_active_workspace_in_its_own_schema(tenant_a, tenant_b):
    from insights.tasks import rollups_refresh_all

    rollups_refresh_all()
    for seeded in (tenant_a, tenant_b):
        with tenant_context(seeded.tenant):
            state = RollupState.objects.get()
            assert state.time_zone == seeded.tenant.time_zone
            assert (
                state.last_conversation_id
                == Conversation.objects.order_by("-id").values_list("id", flat=True).first()
            )


def test_a_removed_source_is_named_so(workspace):
    source = SourceFactory(title="Gone")
    c = _conversation(workspace, MIDNIGHT + timedelta(hours=1))
    _answer(c, MIDNIGHT + timedelta(hours=1), sources=[source.pk])
    Source.objects.filter(pk=source.pk).delete()
    summary = analytics_summary_from_rows(period=Period(date(2030, 6, 15), date(2030, 6, 15)), time_zone=TZ)
    assert [(s.title, s.answers) for s in summary.sources] == [("A removed source", 1)]
