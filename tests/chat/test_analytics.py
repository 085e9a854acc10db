"""chat.analytics and the Analytics page: every figure counted from rows the test made, over
whole days of the workspace's time zone, beside the period before."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from chat.analytics import analytics_overview, period_of
from chat.models import Conversation, Message
from tests.chat.factories import ConversationFactory, MessageFactory
from tests.tenants.factories import MembershipFactory
from tests.widget_builder.factories import WidgetFactory
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NOW = datetime(2030, 6, 15, 10, 0, tzinfo=UTC)  # far from the seeded rows (made "now")


def _conversation(widget, at, *, handoff=False, csat=None, messages=()):
    conversation = ConversationFactory(widget=widget)
    for role, outcome in messages:
        MessageFactory(conversation=conversation, role=role, outcome=outcome)
    Message.objects.filter(conversation=conversation).update(created_at=at)
    Conversation.objects.filter(pk=conversation.pk).update(
        created_at=at,
        handoff_requested_at=at if handoff else None,
        csat_score=csat,
        csat_at=at if csat else None,
    )
    return conversation


def _figures(**kwargs):
    overview = analytics_overview(tz=BERLIN, now=NOW, **kwargs)
    return overview, {f.key: (f.value, f.previous) for f in overview.figures}


def test_periods_are_whole_days_of_the_workspace_time_zone():
    current, previous = period_of(7, BERLIN, NOW)
    assert (current.first.isoformat(), current.last.isoformat()) == ("2030-06-09", "2030-06-15")
    assert (previous.first.isoformat(), previous.last.isoformat()) == ("2030-06-02", "2030-06-08")
    assert current.start == datetime(2030, 6, 8, 22, 0, tzinfo=UTC)  # midnight in Berlin (summer time)
    assert previous.end == current.start


def test_every_figure_is_counted_from_the_rows(tenant_a):
    visitor, bot = Message.Role.VISITOR, Message.Role.BOT
    with tenant_context(tenant_a.tenant):
        widget = Widget.objects.first()
        other = WidgetFactory(name="Other")
        start = datetime(2030, 6, 8, 22, 0, tzinfo=UTC)  # the current period's first instant
        # current period (June 9 to 15 in Berlin)
        _conversation(
            widget,
            start,
            csat=5,
            messages=[(visitor, ""), (bot, "answered"), (visitor, ""), (bot, "partial")],
        )
        _conversation(
            widget,
            start + timedelta(days=2),
            handoff=True,
            csat=2,
            messages=[(visitor, ""), (bot, "no_answer"), (bot, "automation")],
        )
        _conversation(other, NOW - timedelta(hours=1), messages=[(visitor, ""), (bot, "interrupted")])
        # previous period (June 2 to 8): one just before the current one starts
        _conversation(
            widget, start - timedelta(seconds=1), csat=4, messages=[(visitor, ""), (bot, "answered")]
        )
        # outside both
        _conversation(widget, start - timedelta(days=8), messages=[(visitor, "")])

        overview, figures = _figures(days=7)
        assert figures == {
            "conversations": (3, 1),
            "visitor_messages": (4, 1),
            "ai_answers": (3, 1),  # answered, partial, interrupted; not automations
            "no_answer": (1, 0),
            "handoffs": (1, 0),
            "csat": (3.5, 4),
        }
        assert overview.csat_responses == 2
        conversations = {f.key: f for f in overview.figures}["conversations"]
        assert conversations.change == 200 and conversations.tone == "success"
        assert {f.key: f for f in overview.figures}["no_answer"].change is None  # no base to compare

        by_day = dict(overview.daily_conversations)
        assert len(by_day) == 7 and sum(by_day.values()) == 3
        assert by_day[start.astimezone(BERLIN).date()] == 1  # 22:00 UTC is the next day in Berlin
        assert by_day[NOW.date()] == 1

        _, one_widget = _figures(days=7, widget_id=other.pk)
        assert one_widget["conversations"] == (1, 0) and one_widget["ai_answers"] == (1, 0)
        assert one_widget["csat"] == (None, None)

        _, month = _figures(days=30)
        assert month["conversations"] == (5, 0)


def test_the_page_for_every_role_with_a_range_switch_and_the_chart(tenant_a):
    agent = MembershipFactory(tenant=tenant_a.tenant, role="agent").user
    client = Client()
    client.force_login(agent, host=tenant_a.host)
    response = client.get("/dashboard/analytics/?days=30", HTTP_HOST=tenant_a.host)
    assert response.status_code == 200
    page = response.content.decode()
    assert '<a href="/dashboard/analytics/?days=30" aria-current="page">Last 30 days</a>' in page
    assert '<a href="/dashboard/analytics/?days=7">Last 7 days</a>' in page
    overview = response.context["overview"]
    assert overview.days == 30 and len(overview.daily_conversations) == 30
    seeded = {f.key: f.value for f in overview.figures}["conversations"]
    assert seeded == tenant_a.conversation_count  # the seeded conversations, made today
    assert 'data-figure="conversations"' in page and 'class="chart"' in page
    # junk in the query is the default, never an error
    assert (
        client.get("/dashboard/analytics/?days=9999&widget=x", HTTP_HOST=tenant_a.host).context["days"] == 7
    )


def test_a_workspace_with_several_widgets_can_look_at_one(tenant_b):
    client = Client()
    client.force_login(tenant_b.owner, host=tenant_b.host)
    with tenant_context(tenant_b.tenant):
        widget = Widget.objects.order_by("name").last()
        expected = Conversation.objects.filter(widget=widget).count()
    response = client.get(f"/dashboard/analytics/?widget={widget.pk}", HTTP_HOST=tenant_b.host)
    page = response.content.decode()
    assert f'<option value="{widget.pk}" selected>{widget.name}</option>' in page
    assert {f.key: f.value for f in response.context["overview"].figures}["conversations"] == expected
    # the period switch keeps the widget
    assert f'href="/dashboard/analytics/?days=30&amp;widget={widget.pk}"' in page
