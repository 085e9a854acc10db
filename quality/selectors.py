"""Reads of the quality app: the questions the bot did not answer well, their stored
vectors, the bot tests and their runs. Preconditions: the tenant's schema is active."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from chat.answering.outcome import Outcome
from chat.models import Message

from .grouping import Question
from .models import BotTest, BotTestResult, BotTestRun, FlaggedQuestion

RANGES = (7, 30, 90)
# The most recent questions a page load considers (embedding and grouping stay bounded).
MAX_QUESTIONS = 400
CHART_RUN_DAYS = 30
MAX_BOT_TESTS = 25
# A queued run that has not started after this long no longer holds back a new one (its
# message was lost): requesting a run then queues a fresh one.
RUN_QUEUED_STALE = timedelta(minutes=15)
# A run still "running" after this long lost its worker (the task's hard limit is shorter):
# it no longer holds back a new run, and the task's redelivery may run it again.
RUN_RUNNING_STALE = timedelta(minutes=20)

FLAGGED_BY_REPLY = Q(reply__outcome__in=(Outcome.NO_ANSWER, Outcome.HANDOFF)) | Q(reply__feedback_rating=-1)


def _flagged_visitor_messages() -> QuerySet[Message]:
    """Visitor messages answered with the no-answer text or a handoff, whose answer got a
    thumbs-down, or that were the visitor's last before asking for a person (the button):
    the question the bot's answer did not settle."""
    last_before_handoff = (
        Message.objects.filter(
            conversation_id=OuterRef("conversation_id"),
            role=Message.Role.VISITOR,
            created_at__lte=OuterRef("conversation__handoff_requested_at"),
        )
        .order_by("-seq")
        .values("pk")[:1]
    )
    before_handoff = Q(conversation__handoff_requested_at__isnull=False) & Q(pk=Subquery(last_before_handoff))
    return Message.objects.filter(FLAGGED_BY_REPLY | before_handoff, role=Message.Role.VISITOR)


@dataclass(frozen=True)
class Window:
    days: int
    first: date
    last: date
    start: datetime
    end: datetime


def window_between(first: date, last: date, tz: tzinfo) -> Window:
    """The days from ``first`` to ``last`` (included), in the workspace's time zone."""
    return Window(
        (last - first).days + 1,
        first,
        last,
        datetime.combine(first, time.min, tz),
        datetime.combine(last + timedelta(days=1), time.min, tz),
    )


def window_of(days: int, tz: tzinfo, now: datetime | None = None) -> Window:
    """The last ``days`` whole days up to today, in the workspace's time zone."""
    today = timezone.localtime(now or timezone.now(), tz).date()
    return window_between(today - timedelta(days=days - 1), today, tz)


def _reason(outcome: str | None, rating: int | None) -> str:
    if outcome == Outcome.NO_ANSWER:
        return "no_answer"
    if rating == -1:
        return "thumbs_down"
    return "handoff"  # in words (the handoff outcome), or the button after this question


def _open_flagged() -> QuerySet[Message]:
    handled = FlaggedQuestion.objects.exclude(state=FlaggedQuestion.State.OPEN).values("message_id")
    return _flagged_visitor_messages().exclude(pk__in=handled).order_by("-created_at", "-id")


def _questions(rows: QuerySet[Message], limit: int) -> list[Question]:
    return [
        Question(
            message_id=pk,
            text=text,
            asked_at=at,
            conversation_id=conversation_id,
            widget_id=widget,
            reason=_reason(outcome, rating),
        )
        for pk, text, at, conversation_id, widget, outcome, rating in rows.values_list(
            "pk",
            "text",
            "created_at",
            "conversation_id",
            "conversation__widget_id",
            "reply__outcome",
            "reply__feedback_rating",
        )[:limit]
    ]


def flagged_questions(
    *, window: Window, widget_id: int | None = None, limit: int = MAX_QUESTIONS
) -> list[Question]:
    """Visitor questions of ``window`` (one widget's, or all) whose answer was the no-answer
    text or a handoff, got a thumbs-down, or came just before the visitor asked for a
    person, newest first, at most ``limit``; those the
    workspace dismissed or answered are left out. One query."""
    rows = _open_flagged().filter(created_at__gte=window.start, created_at__lt=window.end)
    if widget_id is not None:
        rows = rows.filter(conversation__widget_id=widget_id)
    return _questions(rows, limit)


def flagged_questions_by_id(*, message_ids: list[int]) -> list[Question]:
    """Those of ``message_ids`` that are open flagged questions, newest first."""
    return _questions(_open_flagged().filter(pk__in=message_ids), MAX_QUESTIONS)


def question_vectors_stored(*, message_ids: list[int], model_id: str) -> dict[int, list[float]]:
    """The stored vectors of these questions made by ``model_id``."""
    rows = FlaggedQuestion.objects.filter(
        message_id__in=message_ids, embedding_model_id=model_id, embedding__isnull=False
    ).values_list("message_id", "embedding")
    return {message_id: list(vector) for message_id, vector in rows if vector is not None}


def flagged_message_ids(*, message_ids: list[int]) -> list[int]:
    """Those of ``message_ids`` that are flagged visitor questions (a form's ids, checked)."""
    return list(_flagged_visitor_messages().filter(pk__in=message_ids).values_list("pk", flat=True))


def bot_tests() -> QuerySet[BotTest]:
    return BotTest.objects.select_related("widget", "must_cite")


def bot_test_runs(*, limit: int = 20) -> list[BotTestRun]:
    return list(BotTestRun.objects.all()[:limit])


def bot_test_run_latest_done() -> BotTestRun | None:
    return BotTestRun.objects.filter(status=BotTestRun.Status.DONE).order_by("-finished_at", "-id").first()


def bot_test_run_pending() -> BotTestRun | None:
    """The run queued (recently) or running, if any."""
    return (
        BotTestRun.objects.filter(
            Q(status=BotTestRun.Status.RUNNING, started_at__gte=timezone.now() - RUN_RUNNING_STALE)
            | Q(status=BotTestRun.Status.QUEUED, created_at__gte=timezone.now() - RUN_QUEUED_STALE)
        )
        .order_by("-created_at")
        .first()
    )


def bot_test_failures(*, run: BotTestRun) -> list[BotTestResult]:
    return list(run.results.filter(passed=False).select_related("test"))


def bot_test_pass_rates(*, tz: tzinfo, days: int = CHART_RUN_DAYS) -> list[tuple[date, int]]:
    """The pass rate (whole %) of each day's last finished run, for the days of the last
    ``days`` that had one, oldest first."""
    since = timezone.now() - timedelta(days=days)
    runs = BotTestRun.objects.filter(
        status=BotTestRun.Status.DONE, finished_at__gte=since, total__gt=0
    ).order_by("finished_at")
    by_day: dict[date, int] = {}
    for finished_at, passed, total in runs.values_list("finished_at", "passed", "total"):
        by_day[timezone.localtime(finished_at, tz).date()] = round(100 * passed / total)
    return sorted(by_day.items())
