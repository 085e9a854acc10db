"""Reads for the Analytics section: what the workspace's widgets did over the last days,
each figure beside the same figure for the period before, and conversations per day.

Counted from the rows (conversations and messages in the tenant's schema, which the
caller has active), over whole days of the workspace's time zone. Issue 16 extends it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from django.db.models import Avg, Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from .answering.outcome import Outcome
from .models import Conversation, Message

RANGES = (7, 30)
# Bot messages that are the model's answer (in full or in part), and the ones where the
# knowledge base had nothing good enough (the no-answer text).
AI_ANSWERED = (Outcome.ANSWERED, Outcome.PARTIAL, Outcome.INTERRUPTED)


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    value: float | None
    previous: float | None
    help: str
    higher_is_better: bool | None = True  # None: neither (the change is shown without a verdict)
    decimals: int = 0

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


@dataclass(frozen=True)
class Period:
    first: date  # the first day, in the workspace's time zone
    last: date  # the last day (today)
    start: datetime  # first's midnight there
    end: datetime  # the midnight after last


@dataclass(frozen=True)
class Overview:
    days: int
    current: Period
    previous: Period
    figures: list[Figure]
    daily_conversations: list[tuple[date, int]]
    csat_responses: int


def period_of(days: int, tz: tzinfo, now: datetime | None = None) -> tuple[Period, Period]:
    """The last ``days`` days up to today (in ``tz``), and the ``days`` before them."""
    today = timezone.localtime(now or timezone.now(), tz).date()

    def make(first: date, last: date) -> Period:
        return Period(
            first=first,
            last=last,
            start=datetime.combine(first, time.min, tz),
            end=datetime.combine(last + timedelta(days=1), time.min, tz),
        )

    first = today - timedelta(days=days - 1)
    return make(first, today), make(first - timedelta(days=days), first - timedelta(days=1))


def _within(field: str, period: Period) -> Q:
    return Q(**{f"{field}__gte": period.start, f"{field}__lt": period.end})


def analytics_overview(
    *, days: int, tz: tzinfo, widget_id: int | None = None, now: datetime | None = None
) -> Overview:
    """The section's figures for the last ``days`` days (7 or 30) of one widget (or all),
    each with the previous ``days`` days beside it. Four queries."""
    current, previous = period_of(days, tz, now)
    conversations = Conversation.objects.all()
    messages = Message.objects.all()
    if widget_id is not None:
        conversations = conversations.filter(widget_id=widget_id)
        messages = messages.filter(conversation__widget_id=widget_id)

    per_period: dict[str, dict[str, float | None]] = {}
    for name, period in (("current", current), ("previous", previous)):
        c = conversations.aggregate(
            conversations=Count("id", filter=_within("created_at", period)),
            handoffs=Count("id", filter=_within("handoff_requested_at", period)),
            csat_count=Count("id", filter=_within("csat_at", period) & Q(csat_score__isnull=False)),
            csat=Avg("csat_score", filter=_within("csat_at", period)),
        )
        m = messages.filter(_within("created_at", period)).aggregate(
            visitor_messages=Count("id", filter=Q(role=Message.Role.VISITOR)),
            ai_answers=Count("id", filter=Q(role=Message.Role.BOT, outcome__in=AI_ANSWERED)),
            no_answer=Count("id", filter=Q(role=Message.Role.BOT, outcome=Outcome.NO_ANSWER)),
        )
        per_period[name] = {**c, **m}
    now_, before = per_period["current"], per_period["previous"]

    def figure(
        key: str, label: str, help: str, *, higher_is_better: bool | None = True, decimals: int = 0
    ) -> Figure:
        return Figure(key, label, now_[key], before[key], help, higher_is_better, decimals)

    figures = [
        figure("conversations", "Conversations", "Conversations visitors started."),
        figure("visitor_messages", "Visitor messages", "Messages visitors sent."),
        figure("ai_answers", "AI answers", "Answers the bot wrote from your knowledge."),
        figure(
            "no_answer",
            "No answer found",
            "Questions the knowledge did not cover: the bot sent your no-answer text.",
            higher_is_better=False,
        ),
        figure(
            "handoffs",
            "Handoffs",
            "Conversations where the visitor asked for a person.",
            higher_is_better=None,
        ),
        figure("csat", "Average rating", "Visitors' rating of closed conversations, 1 to 5.", decimals=1),
    ]
    daily = dict(
        conversations.filter(_within("created_at", current))
        .annotate(day=TruncDate("created_at", tzinfo=tz))
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    series = [
        (current.first + timedelta(days=i), daily.get(current.first + timedelta(days=i), 0))
        for i in range(days)
    ]
    return Overview(
        days=days,
        current=current,
        previous=previous,
        figures=figures,
        daily_conversations=series,
        csat_responses=int(now_["csat_count"] or 0),
    )
