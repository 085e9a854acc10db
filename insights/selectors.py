"""Reads for the Analytics page and the API summary: a date range of the workspace (or of
one widget), each figure beside the same figure for the range just before.

Past days come from the rollups (a complete month from its monthly row, the other days
from their daily rows; the charts' per-day counts from the daily rows); days the rollup
has not reached yet (today, or all of them before its first run) are computed from the
rows, the same way (``insights.facts``). ``analytics_summary_from_rows`` computes
everything from the rows and must give the same answer: the tests and the benchmark
compare the two.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from django.core.cache import cache
from django.db import connection
from django.db.models import Q, Sum
from django.utils import timezone

from knowledge.models import Source
from widget_builder.models import Widget

from .facts import DayFacts, Key, Spread, facts_between, merged
from .models import DailyRollup, MonthlyRollup, RollupState
from .services import midnight, month_after, workspace_zone

MAX_DAYS = 366
PRESETS = (7, 30, 90)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
TOP_SOURCES = 10


@dataclass(frozen=True)
class Period:
    first: date  # the first day, in the workspace's time zone
    last: date  # the last day (included)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def dates(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range(self.days)]

    def before(self) -> Period:
        """The period of the same length just before this one."""
        return Period(self.first - timedelta(days=self.days), self.first - timedelta(days=1))


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    value: float | None
    previous: float | None
    help: str
    kind: str = "count"  # count | percent | seconds | rating
    higher_is_better: bool | None = True  # None: neither (the change is shown without a verdict)

    @property
    def shown(self) -> str:
        return _shown(self.value, self.kind)

    @property
    def previous_shown(self) -> str:
        return _shown(self.previous, self.kind)

    @property
    def change(self) -> int | None:
        """The change against the previous period, in whole percent (None without a base)."""
        if self.value is None or not self.previous:
            return None
        return round(100 * (self.value - self.previous) / self.previous)

    @property
    def tone(self) -> str:
        """ "success" when the change is the good kind, "danger" when not, "" otherwise."""
        if not self.change or self.higher_is_better is None:
            return ""
        return "success" if (self.change > 0) == self.higher_is_better else "danger"


def _shown(value: float | None, kind: str) -> str:
    if value is None:
        return "\N{EN DASH}"
    if kind == "percent":
        return f"{value:.1f}%"
    if kind == "rating":
        return f"{value:.2f}"
    if kind == "seconds":
        return duration(value)
    if kind == "ms":
        return f"{value:,.0f} ms"
    return f"{value:,.0f}"


def duration(seconds: float) -> str:
    """ "45 s", "3 min 20 s", "2 h 05 min", "3 d 4 h"."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    if whole < 86400:
        return f"{whole // 3600} h {whole % 3600 // 60:02d} min"
    return f"{whole // 86400} d {whole % 86400 // 3600} h"


def percentile(histogram: Counter[int], p: float) -> int | None:
    """The nearest-rank ``p``-th percentile of the values a histogram counts (exact)."""
    total = sum(histogram.values())
    if not total:
        return None
    rank = max(1, math.ceil(p / 100 * total))
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return None  # pragma: no cover (the loop reaches rank)


@dataclass(frozen=True)
class Speed:
    widget: str
    provider: str
    answers: int
    first_token_p50: int | None
    first_token_p95: int | None
    reported: int  # answers whose widget reported the full time
    full_p50: int | None
    full_p95: int | None


@dataclass(frozen=True)
class CitedSource:
    title: str
    url: str
    answers: int


@dataclass(frozen=True)
class Summary:
    period: Period
    previous: Period
    time_zone: str
    widget_id: int | None
    figures: list[Figure]
    daily: list[tuple[date, int]]  # conversations per day
    daily_answers: list[tuple[date, int]]  # AI answers per day
    heat: list[list[int]]  # visitor messages, [weekday 0=Monday][hour]
    csat: list[tuple[int, int]]  # (score, ratings) for 1..5
    csat_responses: int
    thumbs: tuple[int, int]  # up, down
    sources: list[CitedSource]
    speed: list[Speed]

    def figure(self, key: str) -> Figure:
        return next(f for f in self.figures if f.key == key)


def period_ending_today(days: int, time_zone: str, now: datetime | None = None) -> Period:
    today = timezone.localtime(now or timezone.now(), workspace_zone(time_zone)).date()
    return Period(today - timedelta(days=days - 1), today)


class PeriodInvalid(ValueError):
    """A date range the analytics do not serve; ``field`` names the faulty bound."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def period_between(first: date, last: date) -> Period:
    """The days from ``first`` to ``last`` (both included), at most ``MAX_DAYS``."""
    if last < first:
        raise PeriodInvalid("to", "The end date is before the start date.")
    if (last - first).days + 1 > MAX_DAYS:
        raise PeriodInvalid("from", f"Choose at most {MAX_DAYS} days.")
    if first.year < 2000:
        raise PeriodInvalid("from", "Choose a start date in this century.")
    return Period(first, last)


def _rolled_until(time_zone: str) -> date | None:
    state = RollupState.objects.first()
    if state is None or state.time_zone != time_zone:
        return None
    return state.rolled_until


# For the charts: each day's (conversations, AI answers), and visitor messages per weekday
# (0 = Monday) and hour.
Charted = tuple[dict[date, tuple[int, int]], list[list[int]]]
Read = tuple[dict[Key, DayFacts], Charted]


def _facts_read(period: Period, time_zone: str, widget_id: int | None, daily: bool = True) -> Read:
    """The facts of ``period`` (keyed by day or, for a complete month the rollup has, by
    its first day; and widget) and, if ``daily``, what the charts show: the rollups' rows
    where the rollup has the days, else computed from the rows."""
    rolled_until = _rolled_until(time_zone) or period.first
    found: dict[Key, DayFacts] = {}
    per_day: dict[date, tuple[int, int]] = {}
    heat = [[0] * 24 for _ in WEEKDAYS]
    rolled_last = min(period.last, rolled_until - timedelta(days=1))
    if period.first <= rolled_last:
        found.update(_rolled(period.first, rolled_last, widget_id))
        if daily:
            per_day, heat = _rolled_charted(period.first, rolled_last, widget_id)
    live_first = max(period.first, rolled_until)
    if live_first <= period.last:
        live = _facts_live(live_first, period.last, time_zone, widget_id)
        found.update(live)
        live_days, live_heat = _charted(live)
        per_day.update(live_days)
        heat = [[a + b for a, b in zip(x, y, strict=True)] for x, y in zip(heat, live_heat, strict=True)]
    return found, (per_day, heat)


def _whole_months(first: date, last: date) -> tuple[date, date]:
    """The complete calendar months within ``first``..``last``, as [start, end) (empty:
    start == end == first)."""
    start = first if first.day == 1 else month_after(first)
    end = month_after(last) if month_after(last) == last + timedelta(days=1) else last.replace(day=1)
    return (start, end) if start < end else (first, first)


def _rolled(first: date, last: date, widget_id: int | None) -> dict[Key, DayFacts]:
    """Rolled-up days ``first``..``last``: whole months from the monthly rows, the days
    around them from the daily rows (a year: a dozen months and a few dozen days)."""
    start, end = _whole_months(first, last)
    months = MonthlyRollup.objects.filter(month__gte=start, month__lt=end)
    days = DailyRollup.objects.filter(Q(day__gte=first, day__lt=start) | Q(day__gte=end, day__lte=last))
    if widget_id is not None:
        months, days = months.filter(widget_id=widget_id), days.filter(widget_id=widget_id)
    found = {(row["month"], row["widget_id"]): DayFacts.from_row(row) for row in months.values()}
    found.update({(row["day"], row["widget_id"]): DayFacts.from_row(row) for row in days.values()})
    return found


# The daily rows' visitor messages per hour, summed per weekday and hour (in SQL: a year is
# 365 rows of 24 counts).
ROLLED_HEAT = """
    SELECT extract(isodow FROM r.day)::int - 1, h.n::int - 1, sum(h.v::int)
    FROM insights_dailyrollup r CROSS JOIN LATERAL jsonb_array_elements_text(r.hours) WITH ORDINALITY h(v, n)
    WHERE r.day >= %(first)s AND r.day <= %(last)s {widget}
    GROUP BY 1, 2"""


def _rolled_charted(first: date, last: date, widget_id: int | None) -> Charted:
    """What the charts show of rolled-up days ``first``..``last``, summed in SQL from the
    daily rows' counts (no histogram read)."""
    rows = DailyRollup.objects.filter(day__gte=first, day__lte=last)
    if widget_id is not None:
        rows = rows.filter(widget_id=widget_id)
    sums = rows.order_by().values("day").annotate(c=Sum("conversations"), a=Sum("ai_answers"))
    per_day = {day: (c, a) for day, c, a in sums.values_list("day", "c", "a")}
    heat = [[0] * 24 for _ in WEEKDAYS]
    one_widget = "AND r.widget_id = %(widget)s" if widget_id is not None else ""
    with connection.cursor() as cursor:
        cursor.execute(
            ROLLED_HEAT.replace("{widget}", one_widget), {"first": first, "last": last, "widget": widget_id}
        )
        for weekday, hour, n in cursor.fetchall():
            heat[weekday][hour] = n
    return per_day, heat


def _charted(found: dict[Key, DayFacts]) -> Charted:
    per_day: dict[date, tuple[int, int]] = {}
    heat = [[0] * 24 for _ in WEEKDAYS]
    for (day, _), facts in found.items():
        conversations, answers = per_day.get(day, (0, 0))
        per_day[day] = (conversations + facts.counts["conversations"], answers + facts.counts["ai_answers"])
        heat[day.weekday()] = [a + b for a, b in zip(heat[day.weekday()], facts.hours, strict=True)]
    return per_day, heat


# What changes whenever a row the figures count is added or changed: the newest ids and
# times (each an index lookup). Today's figures are cached under them, so a page reloaded
# with nothing new reads no rows; the time to live bounds what a change that moves none of
# them (a resolution undone) could leave stale.
CHANGE_MARKERS = """
    SELECT (SELECT max(id) FROM chat_message), (SELECT max(feedback_at) FROM chat_message),
      (SELECT max(id) FROM chat_conversation), (SELECT max(updated_at) FROM chat_conversation),
      (SELECT max(handoff_requested_at) FROM chat_conversation),
      (SELECT max(closed_at) FROM chat_conversation), (SELECT max(csat_at) FROM chat_conversation),
      (SELECT max(id) FROM insights_answertiming)"""
LIVE_CACHE_SECONDS = 60


def _facts_live(first: date, last: date, time_zone: str, widget_id: int | None) -> dict[Key, DayFacts]:
    """The facts of days the rollup has not reached, from the rows (cached while no row
    changes, at most a minute)."""
    zone = workspace_zone(time_zone)
    with connection.cursor() as cursor:
        cursor.execute(CHANGE_MARKERS)
        markers = cursor.fetchone()
    key = (
        "insights:live:"
        + hashlib.sha256(repr((time_zone, widget_id, first, last, markers)).encode()).hexdigest()
    )
    cached = cache.get(key)
    if cached is not None:
        return cast(dict[Key, DayFacts], cached)
    found = facts_between(
        start=midnight(first, zone),
        end=midnight(last + timedelta(days=1), zone),
        time_zone=time_zone,
        widget_id=widget_id,
    )
    cache.set(key, found, LIVE_CACHE_SECONDS)
    return found


def _facts_scanned(period: Period, time_zone: str, widget_id: int | None, daily: bool = True) -> Read:
    zone = workspace_zone(time_zone)
    found = facts_between(
        start=midnight(period.first, zone),
        end=midnight(period.last + timedelta(days=1), zone),
        time_zone=time_zone,
        widget_id=widget_id,
    )
    return found, _charted(found) if daily else ({}, [])


def analytics_summary(*, period: Period, time_zone: str, widget_id: int | None = None) -> Summary:
    """The figures of ``period`` (and the period before) from the rollups and today's rows.
    Runs in the tenant's schema."""
    return _summary(period, time_zone, widget_id, _facts_read)


def analytics_summary_from_rows(*, period: Period, time_zone: str, widget_id: int | None = None) -> Summary:
    """The same figures, every one computed by scanning the raw rows of both periods."""
    return _summary(period, time_zone, widget_id, _facts_scanned)


def _summary(period: Period, time_zone: str, widget_id: int | None, read: Any) -> Summary:
    previous = period.before()
    now_facts, (per_day, heat) = cast(Read, read(period, time_zone, widget_id))
    before_facts, _ = cast(Read, read(previous, time_zone, widget_id, False))
    now, before = merged(now_facts.values()), merged(before_facts.values())
    return Summary(
        period=period,
        previous=previous,
        time_zone=time_zone,
        widget_id=widget_id,
        figures=_figures(now, before),
        daily=[(d, per_day.get(d, (0, 0))[0]) for d in period.dates()],
        daily_answers=[(d, per_day.get(d, (0, 0))[1]) for d in period.dates()],
        heat=heat,
        csat=[(score, now.csat[score]) for score in range(1, 6)],
        csat_responses=sum(now.csat.values()),
        thumbs=(now.counts["thumbs_up"], now.counts["thumbs_down"]),
        sources=_top_sources(now.sources),
        speed=_speeds(now_facts.items()),
    )


def _ratio(part: float, whole: float) -> float | None:
    return 100 * part / whole if whole else None


def _average(histogram: Counter[int]) -> float | None:
    total = sum(histogram.values())
    return sum(v * n for v, n in histogram.items()) / total if total else None


def _figures(now: DayFacts, before: DayFacts) -> list[Figure]:
    def pair(read: Any) -> tuple[Any, Any]:
        return read(now), read(before)

    def count(name: str) -> tuple[Any, Any]:
        return pair(lambda f: f.counts[name])

    def first_token(f: DayFacts) -> Spread:
        every = Spread()
        for (_, kind), spread in f.speed.items():
            if kind == "first_token":
                every.extend(spread)
        return every

    def answered(f: DayFacts) -> int:
        return f.counts["ai_answers"] + f.counts["no_answer"]

    specs: list[tuple[str, str, tuple[Any, Any], str, str, bool | None]] = [
        (
            "conversations",
            "Conversations",
            count("conversations"),
            "Conversations visitors started.",
            "count",
            True,
        ),
        (
            "visitor_messages",
            "Visitor messages",
            count("visitor_messages"),
            "Messages visitors sent.",
            "count",
            True,
        ),
        (
            "ai_answers",
            "AI answers",
            count("ai_answers"),
            "Answers the bot wrote from your knowledge.",
            "count",
            True,
        ),
        (
            "deflection",
            "Resolved by the bot",
            pair(lambda f: _ratio(f.counts["bot_resolved"], f.counts["conversations"])),
            "Conversations the bot answered with no person involved (no handoff, no agent reply).",
            "percent",
            True,
        ),
        (
            "handoffs",
            "Handoffs",
            count("handoffs"),
            "Conversations where the visitor asked for a person.",
            "count",
            None,
        ),
        (
            "no_answer_rate",
            "No-answer rate",
            pair(lambda f: _ratio(f.counts["no_answer"], answered(f))),
            "Questions the knowledge did not cover: the bot sent your no-answer text.",
            "percent",
            False,
        ),
        (
            "first_response",
            "First human response",
            pair(lambda f: percentile(f.first_response_s, 50)),
            "Median time from a handoff to the first agent reply.",
            "seconds",
            False,
        ),
        (
            "resolution",
            "Resolution time",
            pair(lambda f: percentile(f.resolution_s, 50)),
            "Median time from a handoff to the conversation being resolved.",
            "seconds",
            False,
        ),
        (
            "csat",
            "Average rating",
            pair(lambda f: _average(f.csat)),
            "Visitors' rating of closed conversations, 1 to 5.",
            "rating",
            True,
        ),
        (
            "csat_rate",
            "Rating response rate",
            pair(lambda f: _ratio(sum(f.csat.values()), f.counts["closed"])),
            "Ratings given per conversation resolved.",
            "percent",
            True,
        ),
        ("thumbs_up", "Thumbs up", count("thumbs_up"), "Answers visitors marked helpful.", "count", True),
        (
            "thumbs_down",
            "Thumbs down",
            count("thumbs_down"),
            "Answers visitors marked unhelpful.",
            "count",
            False,
        ),
        (
            "first_token_p50",
            "Time to first token",
            pair(lambda f: first_token(f).percentile(50)),
            "Median wait for the answer to start, as visitors' widgets measured it.",
            "ms",
            False,
        ),
    ]
    return [
        Figure(key, label, values[0], values[1], help, kind, better)
        for key, label, values, help, kind, better in specs
    ]


def _top_sources(cited: Counter[int]) -> list[CitedSource]:
    top = sorted(cited.items(), key=lambda item: (-item[1], item[0]))[:TOP_SOURCES]  # ties: oldest first
    names = {
        s.pk: s
        for s in Source.objects.filter(pk__in=[pk for pk, _ in top]).only("pk", "title", "url", "kind")
    }
    result = []
    for pk, n in top:
        source = names.get(pk)
        title = (source.title or source.url) if source else "A removed source"
        result.append(CitedSource(title=title or f"Source {pk}", url=source.url if source else "", answers=n))
    return result


def _speeds(items: Iterable[tuple[Key, DayFacts]]) -> list[Speed]:
    by: dict[tuple[int, str], dict[str, Spread]] = {}
    for (_, widget), facts in items:
        for (provider, kind), spread in facts.speed.items():
            by.setdefault((widget, provider), {}).setdefault(kind, Spread()).extend(spread)
    names = dict(Widget.objects.filter(pk__in={w for w, _ in by}).values_list("pk", "name"))
    rows = []
    for (widget, provider), kinds in sorted(by.items(), key=lambda i: (names.get(i[0][0], ""), i[0][1])):
        first, full = kinds.get("first_token", Spread()), kinds.get("full", Spread())
        rows.append(
            Speed(
                widget=names.get(widget, f"Widget {widget}"),
                provider=provider,
                answers=first.total,
                first_token_p50=first.percentile(50),
                first_token_p95=first.percentile(95),
                reported=full.total,
                full_p50=full.percentile(50),
                full_p95=full.percentile(95),
            )
        )
    return rows
