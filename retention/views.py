"""The retention settings page (Settings > Data retention, owners and admins): how long the
workspace keeps conversations, attachments and contacts within its plan, and what the
nightly purge removed lately."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render

from saas.errors import ProblemError
from tenants.dashboard import DashboardRequest, dashboard_page
from tenants.forms import problem_onto
from tenants.views import shell_context

from .forms import RetentionForm, period_words
from .selectors import FIELDS, purge_runs_recent, retention_in_force
from .services import retention_policy_update

SHORT = {
    "conversations_days": "Conversations",
    "attachments_days": "Attachments",
    "contacts_days": "Contacts",
}


@dashboard_page("settings", manage=True)
def retention_settings(request: DashboardRequest) -> HttpResponse:
    view = retention_in_force(tenant=request.tenant)
    form = RetentionForm(request.POST or None, bound=view.bound, current=view.days)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                retention_policy_update(tenant=request.tenant, request=request, **form.days())
            except ProblemError as error:
                problem_onto(form, error)
                status = error.status
            else:
                messages.success(request, "Retention saved. The next nightly purge applies it.")
                return redirect("retention:settings")
    narrowed = view.policy.narrowed or {}
    pending = view.beyond_plan if view.policy.pk else []
    context = shell_context(
        request,
        form=form,
        view=view,
        bound_words=period_words(view.bound),
        kept=[(SHORT[field], period_words(view.days[field])) for field in FIELDS],
        narrowed_from=[(form[f].label, period_words(d)) for f, d in (narrowed.get("from") or {}).items()],
        narrowed=narrowed,
        pending=[(form[f].label, period_words(getattr(view.policy, f))) for f in pending],
        runs=purge_runs_recent(limit=10),
    )
    return render(request, "retention/settings.html", context, status=status)
