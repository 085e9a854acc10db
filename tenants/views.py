"""Tenant-host pages owned by the tenancy layer: arriving from the public host, signing
out, and the dashboard landing page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login, logout
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from saas.errors import ProblemError

from . import services
from .dashboard import dashboard_page, onboarding_checklist
from .hosts import public_url
from .models import ApiKey, Invitation, Membership
from .selectors import tenant_usage_counts
from .services import api_keys as key_services
from .services import team as team_services
from .shell import Shell


def root(request):
    return redirect("tenants:dashboard")


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
    """Ends this session and the public-host session it came from (the sign-out signal
    ends the linked ones: tenants.services.handoffs)."""
    logout(request)
    return redirect(public_url(request, "/"))


@dashboard_page("home")
def dashboard(request):
    counts = tenant_usage_counts([request.tenant])[request.tenant.pk]
    checklist = onboarding_checklist()
    context = shell_context(
        request,
        counts=counts,
        checklist=checklist,
        checklist_done=sum(done for _, done in checklist),
    )
    return render(request, "tenants/dashboard.html", context)


def section_pending(request):
    """A dashboard section whose feature is not built yet: says so, shows no fake data.
    Routed once per such section, under its own ``dashboard_page`` (tenants.urls)."""
    return render(request, "tenants/section_pending.html", shell_context(request))


@dashboard_page("team")
def team(request):
    if request.method == "POST":
        try:
            _team_action(request)
        except ProblemError as error:
            messages.error(request, problem_message(error))
        return redirect("tenants:team")
    context = shell_context(
        request,
        members=Membership.objects.filter(tenant=request.tenant)
        .select_related("user")
        .order_by("user__email"),
        invitations=Invitation.objects.filter(
            tenant=request.tenant, accepted_at__isnull=True, revoked_at__isnull=True
        ),
        roles=Membership.Role.choices,
    )
    return render(request, "tenants/team.html", context)


def shell_context(request, **extra) -> dict:
    """What every dashboard page needs (its section, the app shell: tenants.shell), plus
    its own data."""
    return {
        "section": request.section,
        "shell": Shell(request),
        "membership": request.membership,
        **extra,
    }


def posted_id(request, name: str) -> int:
    """An object id from a form; anything that is not one is simply not found (404)."""
    value = request.POST.get(name, "")
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        raise Http404
    return int(value)


def problem_message(error: ProblemError) -> str:
    """One line for people: the field messages if any, else the detail."""
    details = [e["message"] for errs in (error.errors or {}).values() for e in errs]
    return " ".join(details) or error.detail


def _team_action(request) -> None:
    action, actor = request.POST.get("action"), request.membership
    if action == "invite":
        invitation = team_services.invitation_create(
            tenant=request.tenant,
            email=request.POST.get("email", ""),
            role=request.POST.get("role", ""),
            by=actor,
            accept_url=public_url(request, "/invitations/{token}/"),
        )
        messages.success(request, f"Invitation sent to {invitation.email}.")
        return
    if action == "revoke":
        invitation = get_object_or_404(Invitation, pk=posted_id(request, "invitation"), tenant=request.tenant)
        team_services.invitation_revoke(invitation=invitation, by=actor)
        messages.success(request, f"Invitation to {invitation.email} revoked.")
        return
    member = get_object_or_404(Membership, pk=posted_id(request, "member"), tenant=request.tenant)
    if action == "role":
        team_services.membership_role_change(membership=member, role=request.POST.get("role", ""), by=actor)
        messages.success(request, f"{member.user.email} is now {member.get_role_display().lower()}.")
    elif action == "remove":
        team_services.membership_remove(membership=member, by=actor)
        messages.success(request, f"{member.user.email} was removed from the workspace.")
    else:
        raise Http404


@dashboard_page("api")
def api_keys(request):
    """API keys: create (the secret is shown on this response only), list, revoke."""
    secret = None
    if request.method == "POST":
        try:
            if request.POST.get("action") == "revoke":
                key = get_object_or_404(ApiKey, pk=posted_id(request, "key"), tenant=request.tenant)
                key_services.api_key_revoke(key=key, by=request.membership)
                messages.success(request, f"Key “{key.name}” revoked: it stopped working at once.")
                return redirect("tenants:api-keys")
            key, secret = key_services.api_key_create(
                tenant=request.tenant,
                name=request.POST.get("name", ""),
                role=request.POST.get("role", "admin"),
                by=request.membership,
            )
        except ProblemError as error:
            messages.error(request, problem_message(error))
            return redirect("tenants:api-keys")
    context = shell_context(
        request,
        keys=ApiKey.objects.filter(tenant=request.tenant, revoked_at__isnull=True),
        secret=secret,
        roles=ApiKey.Role.choices,
    )
    return render(request, "tenants/api_keys.html", context)  # never cached (dashboard_page)
