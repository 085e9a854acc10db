"""The platform's daily usage statistics (tenants.services.platform_usage): equal to the
counts of the raw rows, computed once per complete UTC day, resumed after a run stopped
half-way, and shown to staff in the platform admin."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from chat.models import Message
from tenants.models import PlatformDailyUsage, Tenant
from tenants.services import platform_usage
from tenants.services.platform_usage import platform_usage_compute
from tenants.tasks import platform_usage_compute as compute_task
from tests.chat.factories import ConversationFactory, MessageFactory

SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)


def _midnight(days_from_today: int) -> datetime:
    return datetime.combine(
        timezone.now().astimezone(UTC).date() + timedelta(days=days_from_today), time.min, tzinfo=UTC
    )


def _message(role: str, at: datetime, **fields) -> Message:
    conversation = ConversationFactory()
    message = MessageFactory(conversation=conversation, role=role, **fields)
    Message.objects.filter(pk=message.pk).update(created_at=at)
    return message


def _raw(day_start: datetime) -> dict[str, int]:
    """What the rows say about the UTC day starting at ``day_start``, across workspaces."""
    end = day_start + DAY
    serving = Tenant.objects.filter(status__in=["active", "suspended"])
    figures = {
        "tenants": serving.filter(created_at__lt=end).count(),
        "active_tenants": 0,
        "messages": 0,
        "ai_answers": 0,
    }
    for tenant in serving:
        with tenant_context(tenant):
            day = Message.objects.filter(created_at__gte=day_start, created_at__lt=end)
            messages = day.exclude(role=Message.Role.NOTE).count()
            figures["messages"] += messages
            figures["active_tenants"] += bool(messages)
            figures["ai_answers"] += day.filter(
                role="bot", reply_to__isnull=False, automation_rule__isnull=True
            ).count()
    return figures


@pytest.fixture
def traffic(tenant_a, tenant_b):
    """Messages on the next three UTC days (the days are complete once ``now`` is past them)."""
    day1, day2 = _midnight(1), _midnight(2)
    with tenant_context(tenant_a.tenant):
        question = _message("visitor", day1 + DAY - SECOND)  # the last second of day 1
        _message("bot", day1 + DAY - SECOND, reply_to=question, provider="offline")
        _message("bot", day1 + 3600 * SECOND)  # a greeting: no AI answer
        _message("note", day1 + 3600 * SECOND)  # private notes are not messages
        _message("visitor", day2)  # the first second of day 2
    with tenant_context(tenant_b.tenant):
        question = _message("visitor", day2 + 7200 * SECOND)
        _message("bot", day2 + 7200 * SECOND, reply_to=question, provider="offline")
        _message("agent", day2 + 7300 * SECOND)


def test_each_complete_day_equals_the_counts_of_the_rows(traffic):
    now = _midnight(4) + SECOND  # days up to and including day 3 are complete
    written = platform_usage_compute(now=now)
    assert written >= 3
    for offset in (1, 2, 3):
        start = _midnight(offset)
        row = PlatformDailyUsage.objects.get(day=start.date())
        assert {
            "tenants": row.tenants,
            "active_tenants": row.active_tenants,
            "messages": row.messages,
            "ai_answers": row.ai_answers,
        } == _raw(start)
    day1 = PlatformDailyUsage.objects.get(day=_midnight(1).date())
    day2 = PlatformDailyUsage.objects.get(day=_midnight(2).date())
    assert (day1.messages, day1.ai_answers, day1.active_tenants) == (3, 1, 1)
    assert (day2.messages, day2.ai_answers, day2.active_tenants) == (4, 1, 2)
    assert not PlatformDailyUsage.objects.filter(day=_midnight(4).date()).exists()  # not complete yet

    assert platform_usage_compute(now=now) == 0  # a second run writes nothing
    assert PlatformDailyUsage.objects.get(day=day1.day).messages == 3


def test_a_day_is_computed_only_once_it_is_over(traffic):
    platform_usage_compute(now=_midnight(2) - SECOND)
    assert not PlatformDailyUsage.objects.filter(day=_midnight(1).date()).exists()
    platform_usage_compute(now=_midnight(2) + SECOND)
    assert PlatformDailyUsage.objects.get(day=_midnight(1).date()).messages == 3


def test_a_run_stopped_after_its_first_chunk_resumes_after_it(traffic, monkeypatch):
    now = _midnight(12)
    real = platform_usage._rows
    calls = []

    def die_on_second_chunk(days):
        calls.append(days)
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        return real(days)

    monkeypatch.setattr(platform_usage, "_rows", die_on_second_chunk)
    with pytest.raises(RuntimeError):
        platform_usage_compute(now=now)
    done = PlatformDailyUsage.objects.count()
    assert done == platform_usage.CHUNK_DAYS
    monkeypatch.setattr(platform_usage, "_rows", real)
    assert platform_usage_compute(now=now) > 0
    last = PlatformDailyUsage.objects.order_by("-day").first()
    assert last is not None and last.day == _midnight(11).date()
    days = list(PlatformDailyUsage.objects.order_by("day").values_list("day", flat=True))
    assert len(days) == len(set(days)) == (days[-1] - days[0]).days + 1  # no gap, no double
    assert PlatformDailyUsage.objects.get(day=_midnight(2).date()).messages == 4


def test_the_daily_task_returns_the_days_it_computed(db):
    assert set(compute_task.apply().get()) == {"days_computed"}


def test_staff_see_the_last_30_days_with_totals(staff_client, traffic):
    platform_usage_compute(now=_midnight(4))
    PlatformDailyUsage.objects.create(day=_midnight(-60).date(), messages=999)
    response = staff_client.get("/admin/tenants/platformdailyusage/")
    assert response.status_code == 200
    shown = {row.day for row in response.context["cl"].result_list}
    assert _midnight(2).date() in shown and _midnight(-60).date() not in shown
    summary = response.context["usage_summary"]
    computed = [_raw(_midnight(offset)) for offset in range(0, 4)]
    assert summary["messages"] == sum(day["messages"] for day in computed)
    assert summary["ai_answers"] == sum(day["ai_answers"] for day in computed) >= 2
    body = response.content.decode()
    assert "Messages per day" in body and "AI answers" in body
    ninety = staff_client.get("/admin/tenants/platformdailyusage/", {"period": "90"})
    assert _midnight(-60).date() in {row.day for row in ninety.context["cl"].result_list}
    assert staff_client.get("/admin/tenants/platformdailyusage/add/").status_code == 403


def test_the_chart_s_bars_are_the_share_of_the_busiest_day_in_steps_of_5(db):
    from tenants.admin_usage import usage_summary

    day = _midnight(0).date()
    PlatformDailyUsage.objects.bulk_create(
        PlatformDailyUsage(day=day - timedelta(days=i), messages=n) for i, n in enumerate([1000, 0, 333, 976])
    )
    summary = usage_summary(PlatformDailyUsage.objects.all())
    assert [bar["percent"] for bar in summary["bars"]] == [100, 35, 0, 100]  # oldest first
    assert summary["messages"] == 2309 and summary["days"] == 4
