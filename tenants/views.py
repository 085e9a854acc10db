"""Tenant-host pages owned by the tenancy layer: arriving from the public host, signing
out, the dashboard landing page, and the team, API keys and workspace settings pages."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from saas.errors import ProblemError
from saas.ratelimit import client_address

from . import services
from .dashboard import dashboard_page, onboarding_checklist
from .forms import ROLE_HELP, ApiKeyForm, InvitationForm, WorkspaceSettingsForm, problem_onto
from .hosts import public_url
from .models import ApiKey, Invitation, Membership, SupportAccess
from .selectors import api_keys_active, team_overview, tenant_usage_counts
from .services import api_keys as key_services
from .services import settings as settings_services
from .services import support as support_services
from .services import team as team_services
from .services.settings import LOGO_MAX_BYTES
from .shell import Shell
from .support import SUPPORT_SESSION_KEY, support_access_of_session, support_accesses_for


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
    request.session.pop(SUPPORT_SESSION_KEY, None)  # a member's sign-in is never a support session
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
    grant = support_access_of_session(tenant=request.tenant, session=request.session)
    if grant is not None:  # a staff member's support session: signing out ends the access
        support_services.support_access_end(grant=grant, by=grant.staff, ip=client_address(request))
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


@dashboard_page("team")
def team(request):
    """Members (role, removal), pending invitations (revoke) and the invitation form. A
    refused invitation answers the page again with the form's errors and what was typed."""
    form = InvitationForm(actor_role=request.membership.role)
    status = 200
    if request.method == "POST" and request.POST.get("action") == "invite":
        form = InvitationForm(request.POST, actor_role=request.membership.role)
        status = _invite(request, form)
        if status == 302:
            return redirect("tenants:team")
    elif request.method == "POST":
        try:
            _team_action(request)
        except ProblemError as error:
            messages.error(request, problem_message(error))
        return redirect("tenants:team")
    overview = team_overview(request.tenant)
    for invitation in overview["invitations"]:  # its link's end (tenants.services.team)
        invitation.expires_at = invitation.sent_at + team_services.INVITATION_MAX_AGE
    context = shell_context(request, form=form, role_help=ROLE_HELP, now=timezone.now(), **overview)
    return render(request, "tenants/team.html", context, status=status)


def _invite(request, form: InvitationForm) -> int:
    """Send the invitation the form holds: 302 when sent, else the status to answer the
    form again with (its errors on it)."""
    if not form.is_valid():
        return 400
    try:
        invitation = team_services.invitation_create(
            tenant=request.tenant,
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            by=request.membership,
            accept_url=public_url(request, "/invitations/{token}/"),
            request=request,
        )
    except ProblemError as error:
        problem_onto(form, error)
        return error.status
    messages.success(request, f"Invitation sent to {invitation.email}.")
    return 302


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
    if action == "revoke":
        invitation = get_object_or_404(Invitation, pk=posted_id(request, "invitation"), tenant=request.tenant)
        team_services.invitation_revoke(invitation=invitation, by=actor, request=request)
        messages.success(request, f"Invitation to {invitation.email} revoked.")
        return
    member = get_object_or_404(Membership, pk=posted_id(request, "member"), tenant=request.tenant)
    if action == "role":
        team_services.membership_role_change(
            membership=member, role=request.POST.get("role", ""), by=actor, request=request
        )
        messages.success(request, f"{member.user.email} is now {member.get_role_display().lower()}.")
    elif action == "remove":
        team_services.membership_remove(membership=member, by=actor, request=request)
        messages.success(request, f"{member.user.email} was removed from the workspace.")
    else:
        raise Http404


@dashboard_page("api")
def api_keys(request):
    """API keys: create (the secret is shown on this response only), list, revoke. A
    refused key answers the page again with the form's errors and what was typed."""
    secret, status, form = None, 200, ApiKeyForm()
    if request.method == "POST" and request.POST.get("action") == "revoke":
        key = get_object_or_404(ApiKey, pk=posted_id(request, "key"), tenant=request.tenant)
        try:
            key_services.api_key_revoke(key=key, by=request.membership, request=request)
        except ProblemError as error:
            messages.error(request, problem_message(error))
        else:
            messages.success(request, f"Key “{key.name}” revoked: it stopped working at once.")
        return redirect("tenants:api-keys")
    if request.method == "POST":
        form = ApiKeyForm(request.POST)
        status = 400
        if form.is_valid():
            try:
                _, secret = key_services.api_key_create(
                    tenant=request.tenant,
                    name=form.cleaned_data["name"],
                    role=form.cleaned_data["role"],
                    by=request.membership,
                    request=request,
                )
                form, status = ApiKeyForm(), 200
            except ProblemError as error:
                problem_onto(form, error)
                status = error.status
    context = shell_context(request, keys=api_keys_active(request.tenant), secret=secret, form=form)
    return render(request, "tenants/api_keys.html", context, status=status)  # never cached (dashboard_page)


@dashboard_page("settings", manage=True)
def workspace_settings(request):
    """The workspace's name, time zone, default language and logo (owners and admins)."""
    tenant = request.tenant
    initial = {"name": tenant.name, "time_zone": tenant.time_zone, "language": tenant.language}
    form, status = WorkspaceSettingsForm(initial=initial), 200
    if request.method == "POST":
        form = WorkspaceSettingsForm(request.POST, request.FILES, initial=initial)
        status = 400
        if form.is_valid():
            upload = form.cleaned_data["logo"]
            try:
                settings_services.tenant_settings_update(
                    tenant=tenant,
                    by=request.membership,
                    name=form.cleaned_data["name"],
                    time_zone=form.cleaned_data["time_zone"],
                    language=form.cleaned_data["language"],
                    logo=_upload_bytes(upload),
                    remove_logo=form.cleaned_data["remove_logo"],
                    ip=client_address(request),
                    request=request,
                )
            except ProblemError as error:
                problem_onto(form, error)
                status = error.status
            else:
                messages.success(request, "Workspace settings saved.")
                return redirect("tenants:settings")
    return render(request, "tenants/settings.html", shell_context(request, form=form), status=status)


def _upload_bytes(upload) -> bytes | None:
    """An upload's bytes, read no further than one byte past the logo's limit (the service
    refuses what is bigger)."""
    if not upload:
        return None
    return upload.read(LOGO_MAX_BYTES + 1)


# --- staff read-only support access (tenants.services.support, tenants.support) -----------


def support_handoff(request):
    """Spend a support hand-off from the platform admin: a fresh session on this host that
    signs nobody in and that only the dashboard honours, read-only, until the grant ends."""
    if request.user.is_authenticated:
        # Never replace a member's own session here (a link sent to them would switch them
        # into someone else's read-only access); the token stays unspent.
        context = {"sign_in_url": public_url(request, "/admin/"), "signed_in_here": True}
        return render(request, "tenants/handoff_invalid.html", context, status=409)
    grant = support_services.support_access_consume(
        token=request.GET.get("token", ""),
        tenant=request.tenant,
        ip=client_address(request),
        user_agent=request.headers.get("User-Agent", ""),
    )
    if grant is None:
        context = {"sign_in_url": public_url(request, "/admin/")}
        return render(request, "tenants/handoff_invalid.html", context, status=400)
    # Whatever anonymous session this browser had here ends.
    request.session.flush()
    request.user = AnonymousUser()
    request.session[SUPPORT_SESSION_KEY] = grant.pk
    request.session.set_expiry(grant.expires_at)
    request.session.save()
    support_services.support_access_link_session(grant=grant, session_key=request.session.session_key or "")
    return redirect("tenants:dashboard")


@require_POST
def support_exit(request):
    """The staff member ends their support access (the banner's button): audited; back to
    the workspace's page in the platform admin."""
    grant = support_access_of_session(tenant=request.tenant, session=request.session)
    if grant is not None:
        support_services.support_access_end(grant=grant, by=grant.staff, ip=client_address(request))
    request.session.flush()
    return redirect(public_url(request, f"/admin/tenants/tenant/{request.tenant.pk}/change/"))


@dashboard_page("team")
def support_accesses(request):
    """The workspace's support accesses by platform staff; owners can end a live one."""
    if request.method == "POST":
        if request.membership.role != Membership.Role.OWNER:
            raise PermissionDenied("Only the workspace's owners can end a support access.")
        grant = get_object_or_404(SupportAccess, pk=posted_id(request, "access"), tenant=request.tenant)
        try:
            support_services.support_access_end(grant=grant, by=request.user, ip=client_address(request))
        except ProblemError as error:
            messages.error(request, problem_message(error))
        else:
            messages.success(
                request, f"Support access by {grant.staff_email} ended: their session is closed."
            )
        return redirect("tenants:support-accesses")
    context = shell_context(
        request,
        support_accesses=support_accesses_for(request.tenant),
        can_end_support=request.membership.role == Membership.Role.OWNER,
    )
    return render(request, "tenants/support_accesses.html", context)
