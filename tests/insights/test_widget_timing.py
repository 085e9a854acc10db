"""insights.widget_api: the widget reports how long a streamed answer took where the visitor
is; the analytics' answer speed uses it (else the server's time to the first token)."""

from __future__ import annotations

import dataclasses

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from chat.models import Message
from insights.models import AnswerTiming
from insights.selectors import analytics_summary_from_rows, period_ending_today
from tests.chat.visitors import make_visitor

pytestmark = pytest.mark.django_db


def test_the_widget_reports_an_answers_timing_once(client, visitor, tenant_a):
    answer = visitor.send(client, "Hello").json()["answer"]["message"]
    path = f"messages/{answer['seq']}/timing"
    reported = visitor.post(client, path, {"first_token_ms": 640, "full_ms": 2100})
    assert reported.status_code == 200, reported.content
    assert reported.json() == {"seq": answer["seq"], "first_token_ms": 640, "full_ms": 2100}
    again = visitor.post(client, path, {"first_token_ms": 1, "full_ms": 2})
    assert again.json()["first_token_ms"] == 640  # the first report counts
    with tenant_context(tenant_a.tenant):
        stored = AnswerTiming.objects.get(
            message__conversation=visitor.conversation, message__seq=answer["seq"]
        )
        assert (stored.first_token_ms, stored.full_ms) == (640, 2100)
        period = period_ending_today(7, tenant_a.tenant.time_zone, timezone.now())
        summary = analytics_summary_from_rows(
            period=period, time_zone=tenant_a.tenant.time_zone, widget_id=visitor.widget.pk
        )
        (speed,) = summary.speed
        assert (speed.first_token_p50, speed.full_p50, speed.reported) == (640, 2100, 1)
        visitor_seq = Message.objects.get(conversation=visitor.conversation, role="visitor").seq

    # not an answer, bad or too big a body, another visitor's conversation
    assert (
        visitor.post(
            client, f"messages/{visitor_seq}/timing", {"first_token_ms": 1, "full_ms": 2}
        ).status_code
        == 404
    )
    assert visitor.post(client, path, {"first_token_ms": -1, "full_ms": 2}).status_code == 422
    assert visitor.post(client, path, {"first_token_ms": "soon"}).status_code == 422
    assert (
        visitor.post(client, path, {"first_token_ms": 1, "full_ms": 2, "pad": "x" * 400}).status_code == 413
    )
    # another visitor's token on this conversation
    stranger = dataclasses.replace(
        make_visitor(tenant_a, email="lin@example.com"), conversation=visitor.conversation
    )
    assert stranger.post(client, path, {"first_token_ms": 1, "full_ms": 2}).status_code == 404
