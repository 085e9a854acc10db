"""AI action calls count toward the plan's monthly quota: each call the bot makes takes one
unit; past the quota nothing is sent, the call is logged ``quota_exceeded`` and the model is
told; test runner calls are not counted; the owners are told once; the billing page shows
the use."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from actions import services
from actions.models import ActionCall
from actions.tools import ActionTools
from billing.models import QuotaNotice, UsageCounter
from billing.periods import tenant_period
from billing.plans import plan_get

from .conftest import action_of

pytestmark = pytest.mark.django_db


def _used(tenant) -> int:
    row = UsageCounter.objects.filter(
        tenant=tenant, period=tenant_period(tenant.pk), metric="action_calls"
    ).first()
    return row.value if row else 0


def _set_used(tenant, value: int) -> None:
    UsageCounter.objects.update_or_create(
        tenant=tenant, period=tenant_period(tenant.pk), metric="action_calls", defaults={"value": value}
    )


def test_a_call_past_the_quota_is_not_made_and_the_model_is_told(
    ws, endpoint, visitor, django_capture_on_commit_callbacks
):
    _contact, conversation = visitor
    action_of(endpoint)
    tenant = ws.tenant
    limit = plan_get(tenant.plan).action_calls
    _set_used(tenant, limit - 1)

    def call() -> tuple[str, bool]:
        return ActionTools().call(
            conversation_id=conversation.pk,
            name="order_cancel",
            arguments={"order_id": "7"},
            arguments_error="",
        )

    with django_capture_on_commit_callbacks(execute=True):
        assert call()[1] is False  # the last one included
    assert len(endpoint.requests) == 1 and _used(tenant) == limit
    with django_capture_on_commit_callbacks(execute=True):
        told, is_error = call()
    assert is_error and "used up for this month" in told
    assert len(endpoint.requests) == 1 and _used(tenant) == limit  # not sent, not counted
    refused = ActionCall.objects.order_by("-id").first()
    assert refused.status == ActionCall.Status.QUOTA_EXCEEDED and refused.http_status is None
    # The owners are told once, when the last call is used (not again on each refusal).
    assert QuotaNotice.objects.filter(tenant=tenant, metric="action_calls", level=100).count() == 1
    assert [m.subject for m in mail.outbox] == [
        f"{tenant.name}: 100% of your plan's AI action calls a month used"
    ]


def test_the_test_runner_is_not_counted_nor_refused(ws, endpoint):
    action = action_of(endpoint)
    tenant = ws.tenant
    _set_used(tenant, plan_get(tenant.plan).action_calls)
    outcome = services.action_test(action=action, arguments={"order_id": "7"})
    assert outcome.status == ActionCall.Status.SUCCEEDED and len(endpoint.requests) == 1
    assert _used(tenant) == plan_get(tenant.plan).action_calls


def test_the_billing_page_shows_the_action_calls_used(tenant_a):
    _set_used(tenant_a.tenant, 37)
    client = Client(HTTP_HOST=tenant_a.host)
    client.force_login(tenant_a.owner)
    page = client.get("/dashboard/billing/").content.decode()
    assert 'data-quota="action_calls"' in page and "AI action calls a month" in page
    assert "<strong>37</strong> of 100" in page


def test_the_actions_page_says_when_the_calls_are_running_out_or_used_up(tenant_a):
    client = Client(HTTP_HOST=tenant_a.host)
    client.force_login(tenant_a.owner)
    assert "action calls" not in client.get("/dashboard/actions/").content.decode()
    _set_used(tenant_a.tenant, 80)
    assert "used 80 of the 100 AI action calls" in client.get("/dashboard/actions/").content.decode()
    _set_used(tenant_a.tenant, 100)
    assert "AI action calls are used up" in client.get("/dashboard/actions/").content.decode()
