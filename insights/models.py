"""Daily rollups of a workspace's conversations (one row per day of the workspace's time
zone and widget), monthly rollups (one row per complete calendar month and widget, the sum
of its days), the rollup's bookmark, and the answer timings widgets report.

The rows are derived: ``insights.services.rollups_refresh`` rewrites a day's rows from the
conversations and messages whenever something of that day changed, so they can be dropped
and rebuilt at any time. Percentiles stay exact because times are kept as histograms
(whole milliseconds or seconds -> count), never as averages.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class RollupFigures(models.Model):
    """The figures a rollup row keeps (a day's, or a month's: the sum of its days)."""

    widget = models.ForeignKey("widget_builder.Widget", on_delete=models.CASCADE, related_name="+")
    conversations = models.PositiveIntegerField(default=0)  # started that day
    bot_resolved = models.PositiveIntegerField(default=0)  # of those: an AI answer, no human
    visitor_messages = models.PositiveIntegerField(default=0)
    ai_answers = models.PositiveIntegerField(default=0)
    no_answer = models.PositiveIntegerField(default=0)
    handoffs = models.PositiveIntegerField(default=0)  # asked for a person that day
    closed = models.PositiveIntegerField(default=0)  # resolved that day
    thumbs_up = models.PositiveIntegerField(default=0)
    thumbs_down = models.PositiveIntegerField(default=0)
    # {"<seconds>": count}: handoff -> first agent reply (by the handoff's day); handoff ->
    # resolved (by the day it was resolved).
    first_response_s = models.JSONField(default=dict)
    resolution_s = models.JSONField(default=dict)
    csat = models.JSONField(default=dict)  # {"1".."5": count}, by the rating's day
    hours = models.JSONField(default=list)  # 24 counts: visitor messages per hour of the day
    sources = models.JSONField(default=dict)  # {"<source id>": answers citing it}
    # {"<provider>": {"first_token": {"ms": [sorted values], "n": [counts]}, "full": {...}}}
    speed = models.JSONField(default=dict)

    class Meta:
        abstract = True


class DailyRollup(RollupFigures):
    day = models.DateField()  # in the workspace's time zone (RollupState.time_zone)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "widget"], name="insights_rollup_day_widget")]

    def __str__(self) -> str:
        return f"{self.day} widget {self.widget_id}"


class MonthlyRollup(RollupFigures):
    """A complete calendar month of the workspace's time zone: its daily rows summed (kept
    by the same run that writes them, whenever one of its days is rewritten). A year's
    figures read a dozen of these instead of 365 days."""

    month = models.DateField()  # its first day

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["month", "widget"], name="insights_rollup_month_widget")
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} widget {self.widget_id}"


class RollupState(models.Model):
    """One row: how far the rollups go and where the next run picks up."""

    time_zone = models.CharField(max_length=64)  # the days of the rows; another zone: rebuilt
    rolled_until = models.DateField()  # every day before it has its rows
    last_message_id = models.BigIntegerField(default=0)  # the newest message seen
    last_conversation_id = models.BigIntegerField(default=0)
    checked_at = models.DateTimeField(default=timezone.now)  # the last run's start

    def __str__(self) -> str:
        return f"rolled until {self.rolled_until}"


class AnswerTiming(models.Model):
    """What the visitor's widget measured for a streamed answer: from sending the question
    to the first token, and to the full answer."""

    message = models.OneToOneField("chat.Message", on_delete=models.CASCADE, related_name="answer_timing")
    first_token_ms = models.PositiveIntegerField()
    full_ms = models.PositiveIntegerField()
    reported_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.message_id}: {self.first_token_ms}/{self.full_ms} ms"
