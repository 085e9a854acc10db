"""Tenant-host pages owned by the tenancy layer: sign-in and the dashboard landing page."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render

from .models import Membership
from .selectors import tenant_usage_counts


def tenant_membership(request) -> Membership:
    """The signed-in user's membership in this host's tenant; 404 if none.

    404, not 403: a stranger must not learn that the workspace exists.
    """
    membership = (
        Membership.objects.filter(tenant=request.tenant, user=request.user).select_related("tenant").first()
    )
    if membership is None:
        raise Http404
    return membership


def root(request):
    return redirect("dashboard")


@login_required
def dashboard(request):
    membership = tenant_membership(request)
    counts = tenant_usage_counts([request.tenant])[request.tenant.pk]
    return render(request, "tenants/dashboard.html", {"membership": membership, "counts": counts})


class TenantLoginView(auth_views.LoginView):
    template_name = "tenants/login.html"
    redirect_authenticated_user = True
