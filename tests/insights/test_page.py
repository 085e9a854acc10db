"""The Analytics page and the API summary: the range presets and a custom range, the widget
filter, every role, the figures the selector gives (tests/insights/test_rollups.py checks
those against the rows), and problem details for bad dates."""

from __future__ import annotations

import zoneinfo
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from chat.models import Conversation
from tests.chat.factories import MessageFactory
from tests.tenants.factories import ApiKeyFactory, MembershipFactory
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
API = "/api/v1/analytics/summary"


def _client(seeded, user=None) -> Client:
    client = Client(HTTP_HOST=seeded.host)
    client.force_login(user or seeded.owner, host=seeded.host)
    return client


def test_the_page_for_every_role_with_a_range_switch_and_the_chart(tenant_a):
    agent = MembershipFactory(tenant=tenant_a.tenant, role="agent").user
    client = Client()
    client.force_login(agent, host=tenant_a.host)
    response = client.get("/dashboard/analytics/?days=30", HTTP_HOST=tenant_a.host)
    assert response.status_code == 200
    page = response.content.decode()
    assert '<a href="/dashboard/analytics/?days=30" aria-current="page">30 days</a>' in page
    assert '<a href="/dashboard/analytics/?days=7">7 days</a>' in page
    summary = response.context["summary"]
    assert summary.period.days == 30 and len(summary.daily) == 30
    seeded = summary.figure("conversations").value
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
    assert response.context["summary"].figure("conversations").value == expected
    # the period switch keeps the widget
    assert f'href="/dashboard/analytics/?days=30&amp;widget={widget.pk}"' in page


def test_a_custom_range_and_its_errors(tenant_a):
    client = _client(tenant_a)
    today = timezone.localdate(timezone.now(), timezone=zoneinfo.ZoneInfo(tenant_a.tenant.time_zone))
    with tenant_context(tenant_a.tenant):
        MessageFactory(conversation=Conversation.objects.first(), text="When are you open?")
    first = today - timedelta(days=13)
    response = client.get(f"/dashboard/analytics/?from={first}&to={today}")
    summary = response.context["summary"]
    assert (summary.period.first, summary.period.last, summary.period.days) == (first, today, 14)
    assert (summary.previous.first, summary.previous.last) == (
        first - timedelta(days=14),
        first - timedelta(days=1),
    )
    page = response.content.decode()
    assert f'name="from" value="{first}"' in page and 'aria-current="page">7 days' not in page
    assert summary.figure("conversations").value == tenant_a.conversation_count
    assert 'id="heat-map"' in page and "busiest hour is" in page
    # past three months, a bar a week
    long = client.get(f"/dashboard/analytics/?from={today - timedelta(days=199)}&to={today}")
    assert long.context["per"] == "week" and len(long.context["conversations_chart"].bars) == 29
    assert sum(b.value for b in long.context["conversations_chart"].bars) == tenant_a.conversation_count
    assert "Conversations per week" in long.content.decode()
    # the end before the start, a bad date, too long a range: the default, and why
    for query, error in (
        (f"from={today}&to={first}", "The end date is before the start date."),
        ("from=2030-02-30&to=2030-03-01", "Enter both dates as YYYY-MM-DD."),
        ("from=2020-01-01&to=2030-01-01", "Choose at most 366 days."),
    ):
        response = client.get(f"/dashboard/analytics/?{query}")
        assert response.status_code == 200
        assert error in response.content.decode()
        assert response.context["summary"].period.days == 7


def test_the_api_summary(tenant_a, tenant_b):
    with tenant_context(tenant_a.tenant):
        widget = Widget.objects.first()
    client = Client(HTTP_HOST=tenant_a.host)
    today = timezone.now().date()
    query = f"?from={today - timedelta(days=30)}&to={today + timedelta(days=1)}"
    assert client.get(API + query).status_code == 401
    key = ApiKeyFactory(tenant=tenant_a.tenant, role="agent")
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {key.secret}"
    response = client.get(API + query)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["figures"]["conversations"] == {
        "value": tenant_a.conversation_count,
        "previous": 0,
        "change_percent": None,
    }
    assert body["from"] == str(today - timedelta(days=30)) and len(body["daily"]) == 32
    assert set(body["busiest_hours"]) == {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
    assert sum(map(sum, body["busiest_hours"].values())) == body["figures"]["visitor_messages"]["value"]
    assert body["csat_distribution"] == {str(n): 0 for n in range(1, 6)} or body["csat_responses"] >= 0
    assert client.get(API + query + f"&widget={widget.pk}").json()["widget"] == widget.pk

    # bad input: problem details, per field
    with tenant_context(tenant_b.tenant):
        foreign = Widget.objects.order_by("-pk").first().pk + 1  # B's, or nobody's: not A's
    for bad, field in (
        ("", "from"),
        ("?from=2030-01-01", "to"),
        ("?from=yesterday&to=2030-01-01", "from"),
        ("?from=2030-01-02&to=2030-01-01", "to"),
        ("?from=2028-01-01&to=2030-01-01", "from"),
        (query + f"&widget={foreign}", "widget"),
    ):
        response = client.get(API + bad)
        assert response.status_code == 422, (bad, response.content)
        assert response["Content-Type"] == PROBLEM
        assert field in response.json()["errors"], (bad, response.json())


def test_the_api_summary_is_in_the_openapi_document(tenant_a):
    response = _client(tenant_a).get("/api/schema")
    assert response.status_code == 200
    assert "analytics_summary" in response.content.decode()
