"""Single sign-on pages. Workspace host: the provider's settings (Settings section, owners
and admins). Public host: "Sign in with SSO" (an address, then the provider), and the
callback that checks the answer and hands the member to the workspace host."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from billing.limits import tenant_plan
from billing.plans import plan_upgrade_for_feature
from saas.errors import ProblemError, RateLimited
from saas.ratelimit import rate_limit
from tenants import services as tenant_services
from tenants.dashboard import dashboard_page
from tenants.forms import problem_onto
from tenants.hosts import public_url, tenant_url
from tenants.views import shell_context

from . import services
from .errors import SsoAccessDenied, SsoNotConfigured, SsoRequired
from .forms import IdentityProviderForm, SsoStartForm
from .selectors import identity_provider_active, identity_provider_find, identity_provider_of


def _callback_url(request: HttpRequest) -> str:
    return public_url(request, "/sso/callback")


@dashboard_page("settings", manage=True)
def configuration(request):
    """The workspace's OpenID Connect provider: issuer, client, domains, require SSO."""
    provider = identity_provider_of(request.tenant)
    plan = tenant_plan(request.tenant)
    form = IdentityProviderForm(initial=IdentityProviderForm.initial_of(provider), provider=provider)
    status = 200
    if request.method == "POST":
        form = IdentityProviderForm(request.POST, provider=provider)
        status = 400
        if form.is_valid():
            try:
                services.identity_provider_save(tenant=request.tenant, request=request, **form.cleaned_data)
            except ProblemError as error:
                problem_onto(form, error)
                status = error.status
            else:
                messages.success(request, "Single sign-on settings saved.")
                return redirect("sso:configuration")
    context = shell_context(
        request,
        form=form,
        provider=provider,
        active=identity_provider_active(provider),
        plan=plan,
        upgrade=None if plan.sso else plan_upgrade_for_feature("sso"),
        callback_url=_callback_url(request),
        start_url=public_url(request, f"/sso/?address={request.tenant.slug}"),
    )
    return render(request, "sso/configuration.html", context, status=status)


@require_POST
@dashboard_page("settings", manage=True)
def remove(request):
    if services.identity_provider_delete(tenant=request.tenant, request=request):
        messages.success(request, "Single sign-on removed: members sign in with their passwords again.")
    return redirect("sso:configuration")


def _failed(request: HttpRequest, error: ProblemError) -> HttpResponse:
    return render(request, "sso/failed.html", {"error": error}, status=error.status)


def start(request):
    """ "Sign in with SSO": a work email or workspace address, then off to its provider."""
    form = SsoStartForm(request.POST or None, initial={"address": request.GET.get("address", "")})
    status = 200
    if request.method == "POST" and form.is_valid():
        retry_after = rate_limit(request, "sso-start", limit=30, period_s=60)
        if retry_after:
            error: ProblemError = RateLimited(headers={"Retry-After": str(retry_after)})
            return _failed(request, error)
        address = form.cleaned_data["address"]
        provider = identity_provider_find(address)
        if provider is None:
            error = SsoNotConfigured(
                "No workspace signs in with single sign-on at that address. Check it, or sign in "
                "with your email and password."
            )
            form.add_error("address", error.detail)
            status = error.status
        else:
            try:
                begun = services.sso_sign_in_start(
                    provider=provider,
                    session=request.session,
                    redirect_uri=_callback_url(request),
                    login_hint=address if "@" in address else "",
                )
            except ProblemError as error:
                return _failed(request, error)
            return redirect(begun.url)
    elif request.method == "POST":
        status = 400
    return render(
        request, "sso/start.html", {"form": form, "base_domain": settings.BASE_DOMAIN}, status=status
    )


def callback(request):
    """The provider sends the browser back here with a code (or an error): the sign-in this
    browser started is checked and the member handed to the workspace host."""
    try:
        flow = services.sso_flow_take(
            session=request.session,
            state=request.GET.get("state", ""),
            max_age_seconds=settings.SSO_FLOW_SECONDS,
        )
        if request.GET.get("error") or not request.GET.get("code"):
            reason = request.GET.get("error_description") or request.GET.get("error") or "no code"
            raise SsoAccessDenied(f"The provider did not sign you in ({reason[:200]}).")
        membership = services.sso_sign_in_complete(flow=flow, code=request.GET["code"], request=request)
    except ProblemError as error:
        return _failed(request, error)
    token = tenant_services.login_handoff_start(
        user=membership.user, tenant=membership.tenant, session=request.session
    )
    return redirect(tenant_url(request, membership.tenant, f"/auth/handoff?token={token}"))


def required(request: HttpRequest, *, slug: str, name: str) -> HttpResponse:
    """What a member sees who tried to enter a workspace that requires single sign-on with a
    password session (public_site's way into a workspace)."""
    error = SsoRequired(f"{name} requires single sign-on: sign in through its identity provider.")
    context = {"slug": slug, "workspace_name": name, "error": error}
    return render(request, "sso/required.html", context, status=error.status)
