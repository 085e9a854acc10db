"""The reports' pages: each owner and admin chooses their report (agents cannot open the
page), asks for one now (rate limited), and the emails' unsubscribe link turns reports off
with a confirmation page, or in one click from a mail client (RFC 8058)."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from django_tenants.utils import tenant_context

from reports.models import ReportSubscription
from reports.services import unsubscribe_token
from tests.tenants.factories import MembershipFactory

pytestmark = pytest.mark.django_db

PAGE = "/dashboard/analytics/reports/"


def checked(html: str) -> list[str]:
    """The values of the radio buttons checked on the page."""
    return re.findall(r'<input type="radio"[^>]*value="(\w+)"[^>]*\bchecked\b', html)


def frequency_of(tenant_a, user_id: int) -> str | None:
    with tenant_context(tenant_a.tenant):
        row = ReportSubscription.objects.filter(user_id=user_id).first()
        return row.frequency if row else None


def test_an_owner_chooses_daily_reports(tenant_a, as_role):
    client = as_role("owner")
    page = client.get(PAGE)
    assert page.status_code == 200
    assert checked(page.content.decode()) == ["weekly"]  # the default
    response = client.post(PAGE, {"frequency": "daily"})
    assert response.status_code == 302
    assert frequency_of(tenant_a, tenant_a.owner.pk) == "daily"
    assert checked(client.get(PAGE).content.decode()) == ["daily"]


def test_a_bad_choice_is_refused_on_the_form(tenant_a, as_role):
    response = as_role("admin").post(PAGE, {"frequency": "hourly"})
    assert response.status_code == 200
    assert "Choose off, daily or weekly." in response.content.decode()


def test_agents_get_no_reports_page(as_role):
    assert as_role("agent").get(PAGE).status_code == 403
    assert as_role(None).get(PAGE).status_code == 302  # to sign in


def test_the_analytics_page_links_to_the_reports(as_role):
    assert PAGE in as_role("owner").get("/dashboard/analytics/").content.decode()


def test_a_report_sent_now_goes_to_the_requester_and_is_rate_limited(tenant_a, as_role):
    client = as_role("owner")
    mail.outbox.clear()
    for _ in range(5):
        assert client.post(PAGE + "send").status_code == 302
    assert [m.to for m in mail.outbox] == [[tenant_a.owner.email]] * 5
    assert mail.outbox[0].subject.startswith(f"Weekly report for {tenant_a.tenant.name}:")
    assert client.post(PAGE + "send").status_code == 302
    assert len(mail.outbox) == 5
    assert client.get(PAGE + "send").status_code == 405


def test_the_unsubscribe_link_confirms_then_turns_reports_off(tenant_a):
    token = unsubscribe_token(tenant=tenant_a.tenant, user_id=tenant_a.owner.pk)
    client = Client(HTTP_HOST=tenant_a.host, enforce_csrf_checks=True)
    url = f"/reports/unsubscribe/{token}/"
    page = client.get(url)
    assert page.status_code == 200 and "Stop the email reports?" in page.content.decode()
    assert frequency_of(tenant_a, tenant_a.owner.pk) is None  # a link scanner's GET changes nothing
    done = client.post(url, {"List-Unsubscribe": "One-Click"})  # as a mail client posts it
    assert done.status_code == 200 and "Reports turned off" in done.content.decode()
    assert frequency_of(tenant_a, tenant_a.owner.pk) == "off"


def test_an_unsubscribe_link_of_another_workspace_or_altered_is_refused(tenant_a, tenant_b):
    client = Client(HTTP_HOST=tenant_a.host)
    theirs = unsubscribe_token(tenant=tenant_b.tenant, user_id=tenant_b.owner.pk)
    mine = unsubscribe_token(tenant=tenant_a.tenant, user_id=tenant_a.owner.pk)
    for token in (theirs, mine[:-2] + "xx"):
        response = client.post(f"/reports/unsubscribe/{token}/")
        assert response.status_code == 404
        assert "This link is not valid" in response.content.decode()
    assert frequency_of(tenant_a, tenant_a.owner.pk) is None


def test_a_demoted_member_keeps_no_page(tenant_a):
    agent = MembershipFactory(tenant=tenant_a.tenant, role="agent").user
    client = Client(HTTP_HOST=tenant_a.host)
    client.force_login(agent)
    assert client.post(PAGE, {"frequency": "daily"}).status_code == 403
    assert frequency_of(tenant_a, agent.pk) is None
