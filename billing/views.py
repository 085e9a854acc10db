"""Billing's HTTP surface: the Stripe webhook (public host) and the dashboard billing page
(tenant hosts, owners and admins)."""

from __future__ import annotations

import logging

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from saas.errors import InvalidSignature, PayloadTooLarge, problem_response

from . import stripe_client
from .subscriptions import stripe_event_record

logger = logging.getLogger(__name__)

WEBHOOK_MAX_BYTES = 512 * 1024  # Stripe's events are a few KB


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    """Verify the signature on the raw body, store the event once, answer at once; the
    effect is applied by a task (billing.tasks)."""
    if int(request.headers.get("Content-Length") or 0) > WEBHOOK_MAX_BYTES:
        return problem_response(PayloadTooLarge(f"Webhook bodies are at most {WEBHOOK_MAX_BYTES} bytes."))
    try:
        event = stripe_client.webhook_event(request.body, request.headers.get("Stripe-Signature", ""))
    except (stripe_client.SignatureError, ValueError) as error:
        logger.warning("stripe webhook refused: %s", error)
        return problem_response(InvalidSignature("The Stripe-Signature header does not verify this body."))
    new = stripe_event_record(event)
    return JsonResponse({"received": True, "duplicate": not new})
