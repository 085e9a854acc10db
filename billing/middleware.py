"""A workspace restricted for an unpaid subscription is read-only: its dashboard and API
refuse changes (except on the billing page, where the owner fixes the payment, and the
views marked :func:`open_while_restricted`: posted to, yet they only read, as an export).
Reads stay open; nothing is deleted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib import messages
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import redirect

from saas.errors import BillingRestricted, problem_response, wants_json

from .selectors import billing_restricted

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
GUARDED = ("/dashboard/", "/api/")
OPEN = ("/dashboard/billing/",)
OPEN_ATTRIBUTE = "open_while_restricted"

ViewFunction = TypeVar("ViewFunction", bound=Callable[..., Any])


def open_while_restricted(view: ViewFunction) -> ViewFunction:
    """Mark a view that takes a POST but changes none of the workspace's data (an export
    streamed, or queued as a job that only reads): a restricted workspace may still use it."""
    setattr(view, OPEN_ATTRIBUTE, True)
    return view


class RestrictedWorkspaceMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponseBase | None:
        tenant = getattr(request, "tenant", None)
        if (
            request.method not in SAFE_METHODS
            and tenant is not None
            and getattr(tenant, "pk", None) is not None
            and tenant.schema_name != "public"
            and request.path.startswith(GUARDED)
            and not request.path.startswith(OPEN)
            and not getattr(view_func, OPEN_ATTRIBUTE, False)
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
        return None
