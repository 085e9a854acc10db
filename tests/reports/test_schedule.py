"""reports.schedule: which period a report covers and when it is due (pure functions)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from insights.selectors import Period
from reports.schedule import due_period, latest_period

MONDAY = date(2026, 11, 30)


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 5, tzinfo=UTC)


def test_a_daily_report_covers_yesterday_from_the_hour_on():
    assert due_period("daily", None, at(MONDAY, 7), 8) is None
    assert due_period("daily", None, at(MONDAY, 8), 8) == Period(date(2026, 11, 29), date(2026, 11, 29))


def test_a_weekly_report_covers_monday_to_sunday_of_last_week():
    week = Period(date(2026, 11, 23), date(2026, 11, 29))
    assert due_period("weekly", None, at(MONDAY, 9), 8) == week
    # Sent late (the worker was down on Monday): still last week's, on any later day.
    assert due_period("weekly", None, at(date(2026, 12, 2), 9), 8) == week
    assert latest_period("weekly", date(2026, 12, 6)) == week  # a Sunday: its week is not over


def test_a_period_is_sent_once():
    assert due_period("weekly", date(2026, 11, 29), at(MONDAY, 9), 8) is None
    assert due_period("daily", date(2026, 11, 29), at(MONDAY, 23), 8) is None
    assert due_period("daily", date(2026, 11, 29), at(date(2026, 12, 1), 8), 8) is not None


def test_off_is_never_due():
    assert due_period("off", None, at(MONDAY, 12), 8) is None
