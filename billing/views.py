"""Billing's HTTP surface: the Stripe webhook (public host) and the dashboard billing page
(tenant hosts, owners and admins)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from django.contrib import messages
from django.http import HttpRequest, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_tenants.utils import tenant_context

from saas.errors import InvalidSignature, PayloadTooLarge, ProblemError, problem_response
from tenants.dashboard import DashboardRequest, dashboard_page
from tenants.views import problem_message, shell_context

from . import stripe_client
from .periods import tenant_period
from .plans import PLANS
from .quotas import tenant_plan
from .selectors import answers_chart, billing_restricted, grace_ends, quota_uses
from .subscriptions import billing_account, checkout_start, portal_start, stripe_event_record

logger = logging.getLogger(__name__)

WEBHOOK_MAX_BYTES = 512 * 1024  # Stripe's events are a few KB


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    """Verify the signature on the raw body, store the event once, answer at once; the
    effect is applied by a task (billing.tasks)."""
    length = request.headers.get("Content-Length") or "0"
    if not length.isascii() or not length.isdigit() or int(length) > WEBHOOK_MAX_BYTES:
        return problem_response(PayloadTooLarge(f"Webhook bodies are at most {WEBHOOK_MAX_BYTES} bytes."))
    try:
        event = stripe_client.webhook_event(request.body, request.headers.get("Stripe-Signature", ""))
    except (stripe_client.SignatureError, ValueError) as error:
        logger.warning("stripe webhook refused: %s", error)
        return problem_response(InvalidSignature("The Stripe-Signature header does not verify this body."))
    new = stripe_event_record(event)
    return JsonResponse({"received": True, "duplicate": not new})


# --- the dashboard billing page (tenant hosts) -------------------------------------------------


@dashboard_page("billing")
def billing_page(request: DashboardRequest):
    tenant = request.tenant
    plan = tenant_plan(tenant)
    account = billing_account(tenant)
    invoices, invoices_error = [], ""
    if stripe_client.stripe_enabled() and account.stripe_customer_id:
        try:
            invoices = [
                _invoice_row(i) for i in stripe_client.invoices_list(customer_id=account.stripe_customer_id)
            ]
        except stripe_client.StripeError:
            logger.warning("invoices unavailable tenant=%s", tenant.pk, exc_info=True)
            invoices_error = "Invoices cannot be loaded right now. Try again in a minute."
    with tenant_context(tenant):
        uses = quota_uses(tenant, plan)
    context = shell_context(
        request,
        plan=plan,
        plans=PLANS,
        account=account,
        demo=not stripe_client.stripe_enabled(),
        uses=uses,
        usage_chart=answers_chart(
            tenant, limit=next((u.limit for u in uses if u.quota == "ai_answers"), None), account=account
        ),
        invoices=invoices,
        invoices_error=invoices_error,
        grace_ends=grace_ends(account),
        restricted=billing_restricted(tenant),
        period_start=tenant_period(tenant.pk),
    )
    return render(request, "billing/billing.html", context)


@require_POST
@dashboard_page("billing")
def billing_checkout(request: DashboardRequest):
    base = request.build_absolute_uri("/dashboard/billing/")
    try:
        url = checkout_start(
            tenant=request.tenant,
            plan_code=request.POST.get("plan", ""),
            interval=request.POST.get("interval", "monthly"),
            by=request.user,
            success_url=base + "?checkout=success",
            cancel_url=base + "?checkout=cancelled",
            request=request,
        )
    except ProblemError as error:
        messages.error(request, problem_message(error))
        return redirect("billing:page")
    except stripe_client.StripeError:
        logger.exception("checkout failed tenant=%s", request.tenant.pk)
        messages.error(request, "Stripe could not be reached. Nothing was changed; try again in a minute.")
        return redirect("billing:page")
    if url:
        return redirect(url)
    messages.success(request, f"You are now on the {tenant_plan(request.tenant).name} plan.")
    return redirect("billing:page")


@require_POST
@dashboard_page("billing")
def billing_portal(request: DashboardRequest):
    try:
        url = portal_start(
            tenant=request.tenant, return_url=request.build_absolute_uri("/dashboard/billing/")
        )
    except ProblemError as error:
        messages.error(request, problem_message(error))
        return redirect("billing:page")
    except stripe_client.StripeError:
        logger.exception("portal failed tenant=%s", request.tenant.pk)
        messages.error(request, "Stripe could not be reached. Try again in a minute.")
        return redirect("billing:page")
    return redirect(url)


def _invoice_row(invoice: dict) -> dict:
    cents = invoice.get("amount_paid") or invoice.get("amount_due") or 0
    currency = str(invoice.get("currency") or "usd").upper()
    return {
        "id": invoice.get("id", ""),
        "number": invoice.get("number") or "",
        "status": invoice.get("status") or "",
        "created_at": datetime.fromtimestamp(int(invoice.get("created") or 0), tz=UTC),
        "amount": f"{cents / 100:,.2f} {currency}",
        "hosted_invoice_url": _https(invoice.get("hosted_invoice_url")),
        "invoice_pdf": _https(invoice.get("invoice_pdf")),
    }


def _https(url) -> str:
    """Only web links are rendered (a link from an API response is still data)."""
    return url if isinstance(url, str) and url.startswith(("https://", "http://")) else ""
