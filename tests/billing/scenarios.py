"""Steps the billing tests take: the owner's checkout on the dashboard, Stripe's events
delivered to the webhook signed as Stripe signs them, the queued event tasks run, and a
tenant's plan read or set."""

from __future__ import annotations

from django.test import Client

from billing import subscriptions
from billing.models import BillingAccount
from tenants.models import Tenant
from tests.hosts import PUBLIC_HOST

SECRET = "whsec_test_secret"
WEBHOOK = "/billing/stripe/webhook"


def deliver(server, event, *, secret=SECRET, timestamp=None, client=None):
    payload, header = server.sign(event, secret, timestamp)
    return (client or Client()).post(
        WEBHOOK, payload, content_type="application/json", HTTP_HOST=PUBLIC_HOST, HTTP_STRIPE_SIGNATURE=header
    )


def run_queued(server) -> None:
    while server.queued:
        subscriptions.stripe_event_process(server.queued.pop(0))


def checkout(tenant_a, server, plan="pro", interval="monthly") -> list[dict]:
    """The owner chooses a plan, pays on Stripe's page; the events Stripe sends."""
    owner = Client()
    owner.force_login(tenant_a.owner, host=tenant_a.host)
    response = owner.post(
        "/dashboard/billing/checkout", {"plan": plan, "interval": interval}, HTTP_HOST=tenant_a.host
    )
    assert response.status_code == 302 and response["Location"].startswith(server.url + "/pay/cs_")
    session_id = response["Location"].rsplit("/", 1)[1]
    session = server.checkout_sessions[session_id]
    assert session["client_reference_id"] == str(tenant_a.tenant.pk)
    assert session["metadata"] == {"tenant_id": str(tenant_a.tenant.pk), "plan": plan}
    return server.checkout_complete(session_id)


def plan_of(tenant_a) -> str:
    return Tenant.objects.get(pk=tenant_a.tenant.pk).plan


def on_plan(tenant, code: str) -> None:
    Tenant.objects.filter(pk=tenant.pk).update(plan=code)


def restricted(tenant) -> None:
    """The subscription is unpaid: the workspace is read-only (billing.middleware)."""
    BillingAccount.objects.update_or_create(tenant=tenant, defaults={"status": BillingAccount.Status.UNPAID})
