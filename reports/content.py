"""What a report says: the key figures of its period beside the period before (from the
insights rollups, the same numbers as the Analytics page) and the questions the bot
answered badly most often (the "Answer quality" page's groups), with the links back.

Building it may store the questions' vectors (``quality.services.question_vectors``),
hence its own layer above the selectors. Preconditions: the tenant's schema is active.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.urls import reverse
from django.utils.http import urlencode

from chat.notifications import workspace_url
from insights.selectors import Figure, Period, Summary, analytics_summary
from quality.grouping import questions_group
from quality.selectors import flagged_questions, window_between
from quality.services import question_vectors
from tenants.models import Tenant

from .models import ReportSubscription

# The figures a report shows, in order (keys of insights.selectors' figures).
KEY_FIGURES = (
    "conversations",
    "ai_answers",
    "deflection",
    "no_answer_rate",
    "handoffs",
    "first_response",
    "csat",
    "thumbs_down",
)
TOP_UNANSWERED = 5


@dataclass(frozen=True)
class UnansweredGroup:
    title: str
    count: int


@dataclass(frozen=True)
class Report:
    workspace: str
    frequency: str
    summary: Summary
    unanswered: list[UnansweredGroup]
    unanswered_questions: int  # flagged questions of the period still open
    analytics_url: str
    quality_url: str
    preferences_url: str

    @property
    def period(self) -> Period:
        return self.summary.period

    @property
    def figures(self) -> list[Figure]:
        return [self.summary.figure(key) for key in KEY_FIGURES]

    @property
    def quiet(self) -> bool:
        """Nothing happened in the period: no report is sent."""
        return not (
            self.summary.figure("conversations").value or self.summary.figure("visitor_messages").value
        )

    @property
    def period_name(self) -> str:
        if self.frequency == ReportSubscription.Frequency.DAILY:
            return "yesterday"
        return "last week" if self.period.days == 7 else f"the last {self.period.days} days"

    @property
    def period_dates(self) -> str:
        first, last = self.period.first, self.period.last
        if first == last:
            return f"{last:%A} {last.day} {last:%B %Y}"
        return f"{first.day} {first:%B} to {last.day} {last:%B %Y}"

    @property
    def subject(self) -> str:
        kind = "Daily" if self.frequency == ReportSubscription.Frequency.DAILY else "Weekly"
        conversations = self.summary.figure("conversations")
        change = f" ({conversations.change:+d}%)" if conversations.change is not None else ""
        return f"{kind} report for {self.workspace}: {conversations.shown} conversations{change}"


def _unanswered(period: Period, zone: ZoneInfo) -> tuple[list[UnansweredGroup], int]:
    found = flagged_questions(window=window_between(period.first, period.last, zone))
    groups = questions_group(found, question_vectors(questions=found))
    top = [UnansweredGroup(group.title, group.count) for group in groups[:TOP_UNANSWERED]]
    return top, len(found)


def report_build(*, tenant: Tenant, frequency: str, period: Period) -> Report:
    """The report of ``period`` for ``tenant`` (whose schema is active)."""
    zone = ZoneInfo(tenant.time_zone)
    summary = analytics_summary(period=period, time_zone=tenant.time_zone)
    unanswered, flagged = _unanswered(period, zone) if summary.figure("visitor_messages").value else ([], 0)
    dates = urlencode({"from": period.first.isoformat(), "to": period.last.isoformat()})
    return Report(
        workspace=tenant.name,
        frequency=frequency,
        summary=summary,
        unanswered=unanswered,
        unanswered_questions=flagged,
        analytics_url=workspace_url(tenant, f"{reverse('insights:analytics')}?{dates}"),
        quality_url=workspace_url(tenant, f"{reverse('quality:questions')}?days=7"),
        preferences_url=workspace_url(tenant, reverse("reports:preferences")),
    )
