"""The webhooks' dashboard pages: owners and admins only (agents 403), adding an endpoint
(a refused URL shown on its field), its page with the secret and the delivery log, the
actions (test ping, rotate, disable, enable, delete), a delivery's detail with resend, and
another workspace's endpoint not found."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_tenants.utils import tenant_context

from webhooks.models import Delivery, Endpoint
from webhooks.selectors import endpoint_secret

from .conftest import attempt_all_due, endpoint_for

pytestmark = pytest.mark.django_db

LIST = "/dashboard/api/webhooks/"


@pytest.mark.parametrize(("role", "status"), [("owner", 200), ("admin", 200), ("agent", 403)])
def test_the_pages_are_for_owners_and_admins(as_role, tenant_a, receiver, role, status):
    with tenant_context(tenant_a.tenant):
        endpoint = endpoint_for(receiver.url)
    client = as_role(role)
    assert client.get(LIST).status_code == status
    assert client.get(f"{LIST}{endpoint.public_id}/").status_code == status
    assert client.post(f"{LIST}{endpoint.public_id}/", {"action": "disable"}).status_code in (
        (302,) if status == 200 else (403,)
    )


def test_anonymous_visitors_are_sent_to_sign_in(as_role):
    response = as_role(None).get(LIST)
    assert response.status_code == 302 and "login" in response["Location"]


def test_adding_an_endpoint(owner, tenant_a, receiver):
    response = owner.post(
        LIST,
        {
            "url": receiver.url + "/in",
            "description": "CRM",
            "event_types": ["contact.created", "contact.updated"],
        },
    )
    with tenant_context(tenant_a.tenant):
        endpoint = Endpoint.objects.get()
    assert response.status_code == 302 and response["Location"] == f"{LIST}{endpoint.public_id}/"
    assert endpoint.event_types == ["contact.created", "contact.updated"] and endpoint.description == "CRM"
    page = owner.get(response["Location"]).content.decode()
    with tenant_context(tenant_a.tenant):
        assert endpoint_secret(endpoint) in page
    assert "contact.updated" in page


def test_a_private_url_is_refused_on_its_field(owner, tenant_a, settings):
    settings.WEBHOOKS_PRIVATE_ALLOWLIST = []
    response = owner.post(LIST, {"url": "http://10.0.0.1/hook", "event_types": ["contact.created"]})
    assert response.status_code == 422 and "public" in response.context["form"].errors["url"][0].lower()
    response = owner.post(LIST, {"url": "https://example.com/hook"})
    assert response.status_code == 400 and "Choose at least one event." in response.content.decode()
    with tenant_context(tenant_a.tenant):
        assert not Endpoint.objects.exists()


def test_the_endpoint_actions(owner, tenant_a, receiver):
    with tenant_context(tenant_a.tenant):
        endpoint = endpoint_for(receiver.url)
        old = endpoint_secret(endpoint)
    page = f"{LIST}{endpoint.public_id}/"
    assert owner.post(page, {"action": "test"}).status_code == 302
    with tenant_context(tenant_a.tenant):
        [delivery] = attempt_all_due()
    assert delivery.event.type == "webhook.test" and len(receiver.requests) == 1
    log = owner.get(page).content.decode()
    assert (
        "webhook.test" in log and reverse("webhooks:delivery", args=[endpoint.public_id, delivery.pk]) in log
    )
    owner.post(page, {"action": "rotate"})
    owner.post(page, {"action": "disable"})
    with tenant_context(tenant_a.tenant):
        endpoint.refresh_from_db()
        assert endpoint_secret(endpoint) != old and not endpoint.is_enabled
    follow = owner.post(page, {"action": "test"}, follow=True)
    assert "Enable the endpoint" in follow.content.decode()
    owner.post(page, {"action": "enable"})
    owner.post(page, {"action": "update", "url": receiver.url + "/new", "event_types": ["message.created"]})
    with tenant_context(tenant_a.tenant):
        endpoint.refresh_from_db()
        assert (
            endpoint.is_enabled
            and endpoint.url.endswith("/new")
            and endpoint.event_types == ["message.created"]
        )
    assert owner.post(page, {"action": "delete"})["Location"] == LIST
    with tenant_context(tenant_a.tenant):
        assert not Endpoint.objects.exists()


def test_a_delivery_s_detail_and_resend(owner, tenant_a, receiver, queued):
    receiver.statuses = [500]
    receiver.answer = b"nope, try later"
    with tenant_context(tenant_a.tenant):
        endpoint = endpoint_for(receiver.url)
        page = reverse("webhooks:endpoint", args=[endpoint.public_id])
    owner.post(page, {"action": "test"})
    with tenant_context(tenant_a.tenant):
        [delivery] = attempt_all_due()
    url = reverse("webhooks:delivery", args=[endpoint.public_id, delivery.pk])
    detail = owner.get(url).content.decode()
    assert delivery.event.event_id in detail and "nope, try later" in detail and "webhook-signature" in detail
    assert "\n  &quot;type&quot;: &quot;webhook.test&quot;" in detail  # the body, indented to read
    queued.clear()
    assert owner.post(url, {"delivery": delivery.pk}).status_code == 302
    assert queued == [delivery.pk]
    with tenant_context(tenant_a.tenant):
        assert Delivery.objects.get(pk=delivery.pk).attempts == 0


def test_another_workspace_s_endpoint_is_not_found(owner, tenant_b, receiver):
    with tenant_context(tenant_b.tenant):
        endpoint = endpoint_for(receiver.url)
    assert owner.get(f"{LIST}{endpoint.public_id}/").status_code == 404
    assert owner.post(f"{LIST}{endpoint.public_id}/", {"action": "delete"}).status_code == 404
    with tenant_context(tenant_b.tenant):
        assert Endpoint.objects.filter(pk=endpoint.pk).exists()
