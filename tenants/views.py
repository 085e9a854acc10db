"""Tenant-host pages owned by the tenancy layer: arriving from the public host, signing
out, and the dashboard landing page."""

from __future__ import annotations

from django.contrib.auth import login, logout
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from . import services
from .dashboard import SECTIONS, SECTIONS_BY_KEY, member_required, onboarding_checklist
from .hosts import public_url
from .models import Membership
from .selectors import tenant_usage_counts


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


@member_required()
def dashboard(request):
    counts = tenant_usage_counts([request.tenant])[request.tenant.pk]
    checklist = onboarding_checklist()
    context = {
        "membership": request.membership,
        "counts": counts,
        "checklist": checklist,
        "checklist_done": sum(done for _, done in checklist),
        "sections": visible_sections(request.membership),
    }
    return render(request, "tenants/dashboard.html", context)


def section(request, key: str):
    """A dashboard section whose feature is not built yet: says so, shows no fake data."""
    found = SECTIONS_BY_KEY.get(key)
    if found is None or found.ready:
        raise Http404

    @member_required(found.roles)
    def view(request):
        context = {
            "section": found,
            "sections": visible_sections(request.membership),
            "membership": request.membership,
        }
        return render(request, "tenants/section_pending.html", context)

    return view(request)


def visible_sections(membership: Membership) -> list:
    return [s for s in SECTIONS if membership.role in s.roles]
