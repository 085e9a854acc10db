"""A workspace restricted for an unpaid subscription is read-only: its dashboard and API
refuse changes (except on the billing page, where the owner fixes the payment). Reads stay
open; nothing is deleted."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import redirect

from saas.errors import BillingRestricted, problem_response, wants_json

from .selectors import billing_restricted

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
GUARDED = ("/dashboard/", "/api/")
OPEN = ("/dashboard/billing/",)


class RestrictedWorkspaceMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        tenant = getattr(request, "tenant", None)
        if (
            request.method not in SAFE_METHODS
            and tenant is not None
            and getattr(tenant, "pk", None) is not None
            and tenant.schema_name != "public"
            and request.path.startswith(GUARDED)
            and not request.path.startswith(OPEN)
            and billing_restricted(tenant)
        ):
            error = BillingRestricted(
                "The last payment failed and the grace period is over. Update the payment method "
                "on the billing page to make changes again."
            )
            if wants_json(request) or request.path.startswith("/api/"):
                return problem_response(error)
            messages.error(request, error.detail)
            return redirect("/dashboard/billing/")
        return self.get_response(request)
