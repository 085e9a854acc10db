"""Tenant-host pages owned by the tenancy layer: arriving from the public host, signing
out, and the dashboard landing page."""

from __future__ import annotations

from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from . import services
from .hosts import public_url
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


def sign_in(request):
    """Tenant hosts have no password form: sign in on the public host, come back by handoff."""
    return redirect(public_url(request, f"/workspaces/{request.tenant.slug}/open"))


def handoff(request):
    """Spend a one-time token from the public host and open a host-only session here."""
    spent = services.login_handoff_consume(token=request.GET.get("token", ""), tenant=request.tenant)
    if spent is None:
        context = {"sign_in_url": public_url(request, f"/workspaces/{request.tenant.slug}/open")}
        return render(request, "tenants/handoff_invalid.html", context, status=400)
    login(request, spent.user, backend="django.contrib.auth.backends.ModelBackend")
    services.login_handoff_link_session(handoff=spent, tenant_session_key=request.session.session_key)
    target = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}
    ) or not target.startswith("/"):
        target = "/dashboard/"
    return redirect(target)


@require_POST
def sign_out(request):
    """Ends this session and the public-host session it came from."""
    services.sessions_end_linked(session_key=request.session.session_key)
    logout(request)
    return redirect(public_url(request, "/"))


@login_required
def dashboard(request):
    membership = tenant_membership(request)
    counts = tenant_usage_counts([request.tenant])[request.tenant.pk]
    return render(request, "tenants/dashboard.html", {"membership": membership, "counts": counts})
