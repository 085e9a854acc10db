"""Which period a report covers: a pure function of the frequency and the workspace's
local time, tested without a database.

A daily report covers yesterday, a weekly one the last whole week (Monday to Sunday), both
in the workspace's time zone. A report is due from ``send_hour`` local time on the day
after its period ends, and stays due until it is sent: a worker that was down sends it
late rather than never (only the latest period: missed ones are not sent in a batch).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from insights.selectors import Period

from .models import ReportSubscription

Frequency = ReportSubscription.Frequency


def latest_period(frequency: str, today: date) -> Period:
    """The latest whole period of ``frequency`` before ``today`` (a week for "off": what a
    report sent on request covers)."""
    if frequency == Frequency.DAILY:
        yesterday = today - timedelta(days=1)
        return Period(yesterday, yesterday)
    last_sunday = today - timedelta(days=today.weekday() + 1)
    return Period(last_sunday - timedelta(days=6), last_sunday)


def due_period(
    frequency: str, sent_through: date | None, local_now: datetime, send_hour: int
) -> Period | None:
    """The period to send now, or None (off, before the hour, or sent already)."""
    if frequency == Frequency.OFF or local_now.hour < send_hour:
        return None
    period = latest_period(frequency, local_now.date())
    if sent_through is not None and sent_through >= period.last:
        return None
    return period
