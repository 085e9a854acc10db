"""The webhooks' dashboard pages (section "api": owners and admins): the endpoints with the
form to add one; an endpoint's page (edit, secret, rotate, enable or disable, test ping,
delete, its delivery log); a delivery's detail with resend."""

from __future__ import annotations

import json
from collections.abc import Callable

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render

from saas.errors import ProblemError
from tenants.dashboard import DashboardRequest, dashboard_page
from tenants.forms import problem_onto
from tenants.views import posted_id, problem_message, shell_context

from . import services
from .forms import EndpointForm
from .models import Endpoint
from .payloads import EVENT_GROUPS
from .selectors import deliveries_of, delivery_of, endpoint_by_public_id, endpoint_secret, endpoints_all


def _readable(body: str) -> str:
    """The JSON sent, indented for reading (the request itself carried it compact)."""
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body


def _endpoint_or_404(endpoint_id: object) -> Endpoint:
    found = endpoint_by_public_id(str(endpoint_id))
    if found is None:
        raise Http404
    return found


@dashboard_page("api")
def endpoints(request: DashboardRequest) -> HttpResponse:
    form, status = EndpointForm(), 200
    if request.method == "POST":
        form, status = EndpointForm(request.POST), 400
        if form.is_valid():
            try:
                created = services.endpoint_create(request=request, **form.cleaned_data)
            except ProblemError as error:
                problem_onto(form, error)
                status = error.status
            else:
                messages.success(request, "Endpoint added. Copy its signing secret to verify the requests.")
                return redirect("webhooks:endpoint", endpoint_id=created.public_id)
    context = shell_context(request, endpoints=list(endpoints_all()), form=form, groups=EVENT_GROUPS)
    return render(request, "webhooks/endpoints.html", context, status=status)


def _update(request: DashboardRequest, endpoint: Endpoint) -> EndpointForm | None:
    form = EndpointForm(request.POST)
    if form.is_valid():
        try:
            services.endpoint_update(endpoint=endpoint, request=request, **form.cleaned_data)
        except ProblemError as error:
            problem_onto(form, error)
            return form
        messages.success(request, "Endpoint saved.")
        return None
    return form


def _rotate(request: DashboardRequest, endpoint: Endpoint) -> None:
    services.endpoint_secret_rotate(endpoint=endpoint, request=request)
    messages.success(request, "New secret made. Requests are signed with the old one too for 24 hours.")


def _enable(request: DashboardRequest, endpoint: Endpoint) -> None:
    services.endpoint_enable(endpoint=endpoint, request=request)
    messages.success(request, "Endpoint enabled.")


def _disable(request: DashboardRequest, endpoint: Endpoint) -> None:
    services.endpoint_disable(endpoint=endpoint, request=request)
    messages.success(request, "Endpoint disabled: it receives nothing until enabled again.")


def _test(request: DashboardRequest, endpoint: Endpoint) -> None:
    services.endpoint_test_send(endpoint=endpoint)
    messages.success(request, "Test event sent. Its delivery appears in the log below.")


ACTIONS: dict[str, Callable[[DashboardRequest, Endpoint], None]] = {
    "rotate": _rotate,
    "enable": _enable,
    "disable": _disable,
    "test": _test,
}


def _act(request: DashboardRequest, endpoint: Endpoint) -> HttpResponse:
    """A POSTed action on the endpoint (not the edit), then the page or the list."""
    action = request.POST.get("action", "")
    if action == "delete":
        services.endpoint_delete(endpoint=endpoint, request=request)
        messages.success(request, "Endpoint deleted.")
        return redirect("webhooks:endpoints")
    handler = ACTIONS.get(action)
    if handler is not None:
        try:
            handler(request, endpoint)
        except ProblemError as error:
            messages.error(request, problem_message(error))
    return redirect("webhooks:endpoint", endpoint_id=endpoint.public_id)


@dashboard_page("api")
def endpoint(request: DashboardRequest, endpoint_id: object) -> HttpResponse:
    found = _endpoint_or_404(endpoint_id)
    form = None
    if request.method == "POST":
        if request.POST.get("action") != "update":
            return _act(request, found)
        form = _update(request, found)
        if form is None:
            return redirect("webhooks:endpoint", endpoint_id=found.public_id)
    initial = {"url": found.url, "description": found.description, "event_types": found.event_types}
    context = shell_context(
        request,
        endpoint=found,
        form=form or EndpointForm(initial=initial),
        secret=endpoint_secret(found),
        deliveries=deliveries_of(found),
    )
    return render(request, "webhooks/endpoint.html", context, status=400 if form else 200)


@dashboard_page("api")
def delivery(request: DashboardRequest, endpoint_id: object, delivery_id: int) -> HttpResponse:
    found = _endpoint_or_404(endpoint_id)
    sent = delivery_of(found, delivery_id)
    if sent is None:
        raise Http404
    if request.method == "POST":
        if posted_id(request, "delivery") != sent.pk:
            raise Http404
        try:
            services.delivery_resend(delivery=sent)
        except ProblemError as error:
            messages.error(request, problem_message(error))
        else:
            messages.success(request, "Resent with the same event id.")
        return redirect("webhooks:delivery", endpoint_id=found.public_id, delivery_id=sent.pk)
    context = shell_context(request, endpoint=found, delivery=sent, body=_readable(sent.event.body))
    return render(request, "webhooks/delivery.html", context)
