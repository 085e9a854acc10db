"""Writes of the insights app: keeping the daily and monthly rollups up to date, and
storing the answer timings that widgets report."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.db.models import Max, Min, Q
from django.utils import timezone

from chat.models import Conversation, Message

from .facts import DayFacts, facts_between
from .models import AnswerTiming, DailyRollup, MonthlyRollup, RollupState

# Rows changed this long before the last run's start are looked at again: a transaction
# that began before it may commit after it (its rows' times are then older than the run).
OVERLAP = timedelta(minutes=10)
MAX_REPORTED_MS = 10 * 60 * 1000


def workspace_zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def midnight(day: date, zone: zoneinfo.ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, zone)


def month_after(month: date) -> date:
    """The first day of the month after the one ``month`` is in."""
    return (month.replace(day=1) + timedelta(days=32)).replace(day=1)


def rollups_refresh(*, time_zone: str, now: datetime | None = None) -> int:
    """Bring the tenant's rollups up to date: every day before today (in ``time_zone``,
    the workspace's) gets rows equal to what its raw rows say, and every complete month
    before today's the sum of its days. Returns how many days were rewritten.

    Incremental: only days touched by rows added or changed since the last run (a late
    message, a rating, a handoff, a resolution, a reported timing) and the days completed
    since are computed again, and the complete months those days are in summed again.
    Idempotent: a day and a month are rewritten whole, so a second run writes the same
    rows. Runs in the tenant's schema; the state row is locked, so two
    runs in one schema take turns. A change of the workspace's time zone rebuilds all.
    """
    zone = workspace_zone(time_zone)
    started = now or timezone.now()
    today = timezone.localtime(started, zone).date()
    with transaction.atomic():
        state = RollupState.objects.select_for_update().first()
        newest_message = Message.objects.aggregate(n=Max("id"))["n"] or 0
        newest_conversation = Conversation.objects.aggregate(n=Max("id"))["n"] or 0
        if state is None or state.time_zone != time_zone:
            dirty = _all_days(zone, today)
            DailyRollup.objects.all().delete()
            MonthlyRollup.objects.all().delete()
        else:
            dirty = _days_changed(state, zone)
            dirty.update(_days_from(state.rolled_until, today))
        dirty = {day for day in dirty if day < today}
        _rewrite(sorted(dirty), zone, time_zone)
        _rewrite_months(sorted({day.replace(day=1) for day in dirty if month_after(day) <= today}))
        if state is None:
            state = RollupState(time_zone=time_zone, rolled_until=today)
        state.time_zone, state.rolled_until, state.checked_at = time_zone, today, started
        state.last_message_id = max(state.last_message_id, newest_message)
        state.last_conversation_id = max(state.last_conversation_id, newest_conversation)
        state.save()
    return len(dirty)


def _days_from(first: date, end: date) -> set[date]:
    return {first + timedelta(days=i) for i in range((end - first).days)}


def _all_days(zone: zoneinfo.ZoneInfo, today: date) -> set[date]:
    oldest = Conversation.objects.aggregate(at=Min("created_at"))["at"]
    if oldest is None:
        return set()
    return _days_from(timezone.localtime(oldest, zone).date(), today)


def _days_changed(state: RollupState, zone: zoneinfo.ZoneInfo) -> set[date]:
    """Local days whose figures rows added or changed since the last run may have moved.
    Each condition is an indexed lookup (insights' migration 0002 adds the time indexes)."""
    since = state.checked_at - OVERLAP
    times: set[datetime] = set()
    touched: set[int] = set()  # conversations of changed messages: their days change too
    messages = Message.objects.filter(
        Q(id__gt=state.last_message_id) | Q(created_at__gte=since) | Q(feedback_at__gte=since)
    )
    for conversation_id, created_at, feedback_at in messages.values_list(
        "conversation_id", "created_at", "feedback_at"
    ):
        touched.add(conversation_id)
        times.add(created_at)
        if feedback_at is not None:
            times.add(feedback_at)
    timed = AnswerTiming.objects.filter(reported_at__gte=since)
    for conversation_id, created_at in timed.values_list("message__conversation_id", "message__created_at"):
        touched.add(conversation_id)
        times.add(created_at)
    conversations = Conversation.objects.filter(
        Q(id__in=touched)
        | Q(id__gt=state.last_conversation_id)
        | Q(updated_at__gte=since)
        | Q(handoff_requested_at__gte=since)
        | Q(closed_at__gte=since)
        | Q(csat_at__gte=since)
    )
    for row in conversations.values_list("created_at", "handoff_requested_at", "closed_at", "csat_at"):
        times.update(t for t in row if t is not None)
    return {timezone.localtime(t, zone).date() for t in times}


def _rewrite(days: list[date], zone: zoneinfo.ZoneInfo, time_zone: str) -> None:
    """Replace the rows of ``days`` with what the raw rows say, one pass per run of
    consecutive days."""
    for first, last in _runs(days):
        found = facts_between(
            start=midnight(first, zone),
            end=midnight(last + timedelta(days=1), zone),
            time_zone=time_zone,
        )
        DailyRollup.objects.filter(day__gte=first, day__lte=last).delete()
        DailyRollup.objects.bulk_create(
            DailyRollup(day=day, widget_id=widget, **facts.as_row())
            for (day, widget), facts in sorted(found.items())
        )


def _rewrite_months(months: list[date]) -> None:
    """Replace the rows of each of ``months`` (complete ones, by their first day) with the
    sum of their days' rows, per widget."""
    for month in months:
        found: dict[int, DayFacts] = {}
        for row in DailyRollup.objects.filter(day__gte=month, day__lt=month_after(month)).values():
            found.setdefault(row["widget_id"], DayFacts()).add(DayFacts.from_row(row))
        MonthlyRollup.objects.filter(month=month).delete()
        MonthlyRollup.objects.bulk_create(
            MonthlyRollup(month=month, widget_id=widget, **facts.as_row())
            for widget, facts in sorted(found.items())
        )


def _runs(days: list[date]) -> list[tuple[date, date]]:
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def answer_timing_report(*, message: Message, first_token_ms: int, full_ms: int) -> AnswerTiming:
    """Keep what the visitor's widget measured for ``message`` (a bot answer). The first
    report counts; a repeat changes nothing. Times are capped at ten minutes."""
    first_token_ms = min(max(first_token_ms, 0), MAX_REPORTED_MS)
    full_ms = min(max(full_ms, first_token_ms), MAX_REPORTED_MS)
    timing, _ = AnswerTiming.objects.get_or_create(
        message=message, defaults={"first_token_ms": first_token_ms, "full_ms": full_ms}
    )
    return timing
