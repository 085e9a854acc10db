"""What the raw rows say about each day of the workspace's time zone and each widget: the
counts and histograms a ``DailyRollup`` row keeps, computed by SQL over a time range.

The rollup stores these per day; the analytics read them back for past days and compute
today's from the rows the same way; the figures for a whole period computed straight from
the rows (``facts_between`` over the period, merged) are what the rollups must equal.

Each event counts on the day it happened: a conversation on the day it started (and, if
the bot alone answered it, as resolved by the bot), a handoff on the day it was asked for
(with the time to the first agent reply), a resolution on the day it was resolved (with
the time since the handoff), a rating on the day it was given, an answer and its speed on
the day it was written.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import accumulate
from typing import Any

from django.db import connection

from chat.answering.outcome import Outcome

# Bot messages that are the model's answer (in full or in part).
AI_ANSWERED = Outcome.AI_ANSWERED
COUNTS = (
    "conversations",
    "bot_resolved",
    "visitor_messages",
    "ai_answers",
    "no_answer",
    "handoffs",
    "closed",
    "thumbs_up",
    "thumbs_down",
)
SPEEDS = ("first_token", "full")


class Spread:
    """Whole-millisecond values and how often each occurred, kept as sorted parts (one a day)
    that are never merged: a percentile is found by bisecting each part, so reading a year
    of days costs a few thousand bisections instead of merging a year of histograms."""

    __slots__ = ("_pending", "parts")

    def __init__(self) -> None:
        self.parts: list[tuple[list[int], list[int]]] = []  # (sorted values, running counts)
        self._pending: Counter[int] = Counter()

    def count(self, value: int, n: int) -> None:
        self._pending[value] += n

    def _settle(self) -> None:
        if self._pending:
            values = sorted(self._pending)
            self.parts.append((values, list(accumulate(self._pending[v] for v in values))))
            self._pending = Counter()

    def extend(self, other: Spread) -> None:
        self._settle()
        other._settle()
        self.parts.extend(other.parts)

    @property
    def total(self) -> int:
        self._settle()
        return sum(running[-1] for _, running in self.parts)

    def percentile(self, p: float) -> int | None:
        """The nearest-rank ``p``-th percentile (exact): the smallest value with at least
        ``ceil(p% of all)`` values at or below it."""
        total = self.total
        if not total:
            return None
        rank = max(1, math.ceil(p / 100 * total))
        low, high = min(v[0] for v, _ in self.parts), max(v[-1] for v, _ in self.parts)
        while low < high:
            middle = (low + high) // 2
            at_or_below = 0
            for values, running in self.parts:
                i = bisect_right(values, middle)
                if i:
                    at_or_below += running[i - 1]
            if at_or_below >= rank:
                high = middle
            else:
                low = middle + 1
        return low

    def stored(self) -> dict[str, list[int]]:
        """{"ms": sorted values, "n": how often each}: JSON that loads as ints."""
        self._settle()
        merged: Counter[int] = Counter()
        for values, running in self.parts:
            before = 0
            for value, upto in zip(values, running, strict=True):
                merged[value] += upto - before
                before = upto
        values = sorted(merged)
        return {"ms": values, "n": [merged[v] for v in values]}

    @classmethod
    def loaded(cls, stored: dict[str, list[int]]) -> Spread:
        spread = cls()
        if stored["ms"]:
            spread.parts.append((stored["ms"], list(accumulate(stored["n"]))))
        return spread


@dataclass
class DayFacts:
    """One day and widget (or, merged, any set of them)."""

    counts: Counter[str] = field(default_factory=Counter)
    first_response_s: Counter[int] = field(default_factory=Counter)
    resolution_s: Counter[int] = field(default_factory=Counter)
    csat: Counter[int] = field(default_factory=Counter)
    hours: list[int] = field(default_factory=lambda: [0] * 24)
    sources: Counter[int] = field(default_factory=Counter)
    # (provider, "first_token" | "full") -> the answers' times
    speed: dict[tuple[str, str], Spread] = field(default_factory=dict)

    def add(self, other: DayFacts) -> None:
        self.counts.update(other.counts)
        self.first_response_s.update(other.first_response_s)
        self.resolution_s.update(other.resolution_s)
        self.csat.update(other.csat)
        self.hours = [a + b for a, b in zip(self.hours, other.hours, strict=True)]
        self.sources.update(other.sources)
        for key, spread in other.speed.items():
            self.spread(*key).extend(spread)

    def spread(self, provider: str, kind: str) -> Spread:
        return self.speed.setdefault((provider, kind), Spread())

    # --- stored form (DailyRollup's JSON columns: string keys) ---------------------------

    def as_row(self) -> dict[str, Any]:
        speed: dict[str, dict[str, dict[str, list[int]]]] = {}
        for (provider, kind), spread in sorted(self.speed.items()):
            if spread.total:
                speed.setdefault(provider, {})[kind] = spread.stored()
        return {
            **{name: self.counts[name] for name in COUNTS},
            "first_response_s": _stored(self.first_response_s),
            "resolution_s": _stored(self.resolution_s),
            "csat": _stored(self.csat),
            "hours": list(self.hours),
            "sources": _stored(self.sources),
            "speed": speed,
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> DayFacts:
        facts = cls(
            counts=Counter({name: row[name] for name in COUNTS if row[name]}),
            first_response_s=_loaded(row["first_response_s"]),
            resolution_s=_loaded(row["resolution_s"]),
            csat=_loaded(row["csat"]),
            hours=list(row["hours"]) or [0] * 24,
            sources=_loaded(row["sources"]),
        )
        for provider, kinds in row["speed"].items():
            for kind, stored in kinds.items():
                facts.speed[(provider, kind)] = Spread.loaded(stored)
        return facts


def _stored(histogram: Counter[int]) -> dict[str, int]:
    return {str(key): n for key, n in sorted(histogram.items()) if n}


def _loaded(stored: dict[str, int]) -> Counter[int]:
    return Counter({int(key): n for key, n in stored.items()})


Key = tuple[date, int]  # (day, widget id)


# One query per kind of event, each one pass over [start, end) grouped by (local day,
# widget, ...), the day in the workspace's time zone; ``{widget}`` becomes the widget filter
# or nothing. Every value is a parameter.
CONVERSATIONS_STARTED = """
    SELECT (c.created_at AT TIME ZONE %(tz)s)::date, c.widget_id, count(*),
      count(*) FILTER (WHERE c.handoff_requested_at IS NULL AND seen.answered AND NOT seen.agent)
    FROM chat_conversation c
    CROSS JOIN LATERAL (
      SELECT coalesce(bool_or(m.role = 'bot' AND m.outcome = ANY(%(ai)s)), false) AS answered,
             coalesce(bool_or(m.role = 'agent'), false) AS agent
      FROM chat_message m WHERE m.conversation_id = c.id) seen
    WHERE c.created_at >= %(start)s AND c.created_at < %(end)s {widget}
    GROUP BY 1, 2"""
HANDOFFS = """
    SELECT (c.handoff_requested_at AT TIME ZONE %(tz)s)::date, c.widget_id,
      floor(extract(epoch FROM (
        SELECT min(m.created_at) FROM chat_message m WHERE m.conversation_id = c.id
        AND m.role = 'agent' AND m.created_at >= c.handoff_requested_at) - c.handoff_requested_at))::bigint,
      count(*)
    FROM chat_conversation c
    WHERE c.handoff_requested_at >= %(start)s AND c.handoff_requested_at < %(end)s {widget}
    GROUP BY 1, 2, 3"""
RESOLVED = """
    SELECT (c.closed_at AT TIME ZONE %(tz)s)::date, c.widget_id,
      CASE WHEN c.handoff_requested_at <= c.closed_at
        THEN floor(extract(epoch FROM c.closed_at - c.handoff_requested_at))::bigint END,
      count(*)
    FROM chat_conversation c
    WHERE c.closed_at >= %(start)s AND c.closed_at < %(end)s {widget}
    GROUP BY 1, 2, 3"""
RATINGS = """
    SELECT (c.csat_at AT TIME ZONE %(tz)s)::date, c.widget_id, c.csat_score, count(*)
    FROM chat_conversation c
    WHERE c.csat_at >= %(start)s AND c.csat_at < %(end)s AND c.csat_score IS NOT NULL {widget}
    GROUP BY 1, 2, 3"""
MESSAGES_BY_HOUR = """
    SELECT (m.created_at AT TIME ZONE %(tz)s)::date, c.widget_id,
      extract(hour FROM m.created_at AT TIME ZONE %(tz)s)::int,
      count(*) FILTER (WHERE m.role = 'visitor'),
      count(*) FILTER (WHERE m.role = 'bot' AND m.outcome = ANY(%(ai)s)),
      count(*) FILTER (WHERE m.role = 'bot' AND m.outcome = %(no_answer)s)
    FROM chat_message m JOIN chat_conversation c ON c.id = m.conversation_id
    WHERE m.created_at >= %(start)s AND m.created_at < %(end)s AND m.role IN ('visitor', 'bot') {widget}
    GROUP BY 1, 2, 3"""
THUMBS = """
    SELECT (m.feedback_at AT TIME ZONE %(tz)s)::date, c.widget_id,
      count(*) FILTER (WHERE m.feedback_rating > 0), count(*) FILTER (WHERE m.feedback_rating < 0)
    FROM chat_message m JOIN chat_conversation c ON c.id = m.conversation_id
    WHERE m.feedback_at >= %(start)s AND m.feedback_at < %(end)s {widget}
    GROUP BY 1, 2"""
CITED_SOURCES = """
    SELECT (m.created_at AT TIME ZONE %(tz)s)::date, c.widget_id, cited.source_id, count(*)
    FROM chat_message m JOIN chat_conversation c ON c.id = m.conversation_id
    CROSS JOIN LATERAL (
      SELECT DISTINCT (e ->> 'source_id')::bigint AS source_id
      FROM jsonb_array_elements(
        CASE jsonb_typeof(m.citations) WHEN 'array' THEN m.citations ELSE '[]'::jsonb END) e
      WHERE jsonb_typeof(e -> 'source_id') = 'number') cited
    WHERE m.created_at >= %(start)s AND m.created_at < %(end)s
      AND m.role = 'bot' AND m.outcome = ANY(%(ai)s) {widget}
    GROUP BY 1, 2, 3"""
ANSWER_SPEED = """
    SELECT (m.created_at AT TIME ZONE %(tz)s)::date, c.widget_id, m.provider,
      coalesce(t.first_token_ms, m.latency_ms), t.full_ms, count(*)
    FROM chat_message m JOIN chat_conversation c ON c.id = m.conversation_id
    LEFT JOIN insights_answertiming t ON t.message_id = m.id
    WHERE m.created_at >= %(start)s AND m.created_at < %(end)s
      AND m.role = 'bot' AND m.outcome = ANY(%(ai)s) {widget}
    GROUP BY 1, 2, 3, 4, 5"""


def _started(facts: DayFacts, started: int, resolved: int) -> None:
    # The bot alone: an AI answer, no request for a person, no agent message (ever: a
    # later takeover un-resolves it).
    facts.counts["conversations"] += started
    facts.counts["bot_resolved"] += resolved


def _handoffs(facts: DayFacts, seconds: int | None, n: int) -> None:
    facts.counts["handoffs"] += n
    if seconds is not None:  # an agent replied: the time from the request to the reply
        facts.first_response_s[int(seconds)] += n


def _resolved(facts: DayFacts, seconds: int | None, n: int) -> None:
    facts.counts["closed"] += n
    if seconds is not None:  # a person handled it: the time since the handoff
        facts.resolution_s[int(seconds)] += n


def _ratings(facts: DayFacts, score: int, n: int) -> None:
    facts.csat[int(score)] += n


def _messages(facts: DayFacts, hour: int, visitor: int, answers: int, no_answer: int) -> None:
    facts.counts["visitor_messages"] += visitor
    facts.counts["ai_answers"] += answers
    facts.counts["no_answer"] += no_answer
    facts.hours[hour] += visitor


def _thumbs(facts: DayFacts, up: int, down: int) -> None:
    facts.counts["thumbs_up"] += up
    facts.counts["thumbs_down"] += down


def _sources(facts: DayFacts, source: int, n: int) -> None:
    facts.sources[int(source)] += n


def _speed(facts: DayFacts, provider: str, first_token: int | None, full: int | None, n: int) -> None:
    # As the visitor's widget reported it, else the server's time to the first token.
    if first_token is not None:
        facts.spread(provider or "unknown", "first_token").count(int(first_token), n)
    if full is not None:
        facts.spread(provider or "unknown", "full").count(int(full), n)


QUERIES: tuple[tuple[str, Callable[..., None]], ...] = (
    (CONVERSATIONS_STARTED, _started),
    (HANDOFFS, _handoffs),
    (RESOLVED, _resolved),
    (RATINGS, _ratings),
    (MESSAGES_BY_HOUR, _messages),
    (THUMBS, _thumbs),
    (CITED_SOURCES, _sources),
    (ANSWER_SPEED, _speed),
)


def facts_between(
    *, start: datetime, end: datetime, time_zone: str, widget_id: int | None = None
) -> dict[Key, DayFacts]:
    """Every day's facts of events in [start, end), per (local day, widget). Runs in the
    tenant's schema (the caller's). Eight queries, each one pass over the range."""
    found: dict[Key, DayFacts] = {}
    params: dict[str, Any] = {
        "start": start,
        "end": end,
        "tz": time_zone,
        "ai": list(AI_ANSWERED),
        "no_answer": Outcome.NO_ANSWER,
        "widget": widget_id,
    }
    one_widget = "AND c.widget_id = %(widget)s" if widget_id is not None else ""
    with connection.cursor() as cursor:
        for sql, apply in QUERIES:
            cursor.execute(sql.replace("{widget}", one_widget), params)
            for day, widget, *values in cursor.fetchall():
                apply(found.setdefault((day, widget), DayFacts()), *values)
    return found


def merged(parts: Any) -> DayFacts:
    total = DayFacts()
    for facts in parts:
        total.add(facts)
    return total
