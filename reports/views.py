"""The reports' pages (tenant host): each owner's and admin's choice of email report with
a report sent on request, and the unsubscribe link of the emails (no sign-in: the link's
signature says whose reports to stop)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from saas.errors import ProblemError
from saas.ratelimit import rate_limit
from tenants.dashboard import DashboardRequest, dashboard_page
from tenants.forms import problem_onto
from tenants.models import User
from tenants.requests import TenantRequest
from tenants.views import shell_context

from . import services
from .forms import ReportPreferencesForm
from .models import ReportSubscription
from .selectors import report_subscription_of

SEND_NOW_PER_HOUR = 5


@dashboard_page("analytics", manage=True)
def preferences(request: DashboardRequest) -> HttpResponse:
    choice = report_subscription_of(request.user.pk)
    form = ReportPreferencesForm(request.POST or None, initial={"frequency": choice.frequency})
    if request.method == "POST" and form.is_valid():
        try:
            services.report_subscription_set(
                user_id=request.user.pk, frequency=form.cleaned_data["frequency"]
            )
        except ProblemError as error:
            problem_onto(form, error)
        else:
            messages.success(request, "Your report choice is saved.")
            return redirect("reports:preferences")
    context = shell_context(
        request,
        form=form,
        choice=choice,
        send_hour=settings.REPORTS_SEND_HOUR,
        time_zone=request.tenant.time_zone,
    )
    return render(request, "reports/preferences.html", context)


@require_POST
@dashboard_page("analytics", manage=True)
def send_now(request: DashboardRequest) -> HttpResponse:
    if rate_limit(
        request, "reports-send-now", limit=SEND_NOW_PER_HOUR, period_s=3600, key=str(request.user.pk)
    ):
        messages.error(request, "You asked for several reports in the last hour: try again later.")
    elif services.report_send_now(tenant=request.tenant, person=request.user):
        messages.success(request, f"The report is on its way to {request.user.email}.")
    else:
        messages.error(request, "The report could not be sent. Try again in a few minutes.")
    return redirect("reports:preferences")


@csrf_exempt  # the signed link is the credential; mail clients' one-click POST has no token
@require_http_methods(["GET", "POST"])
def unsubscribe(request: TenantRequest, token: str) -> HttpResponse:
    user_id = services.unsubscribe_user_id(tenant=request.tenant, token=token)
    person = User.objects.filter(pk=user_id).first() if user_id is not None else None
    if person is None:
        return render(request, "reports/unsubscribe.html", {"invalid": True}, status=404)
    done = False
    if request.method == "POST":
        done = services.report_unsubscribe(tenant=request.tenant, token=token)
    context = {
        "person": person,
        "workspace": request.tenant.name,
        "done": done or report_subscription_of(person.pk).frequency == ReportSubscription.Frequency.OFF,
    }
    return render(request, "reports/unsubscribe.html", context)
