"""Pages of the public host: the site, signup, and the way into a workspace."""

from __future__ import annotations

from allauth.account import views as allauth_views
from allauth.account.models import EmailAddress
from allauth.socialaccount import views as social_views
from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, transaction
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from billing.plans import PLANS
from saas.errors import REGISTRY, ProblemError, RateLimited, ValidationFailed, problem_response
from saas.ratelimit import rate_limit
from sso import views as sso_views
from sso.selectors import password_entry_refused
from tenants import services as tenant_services
from tenants.errors import (
    InvitationExpired,
    InvitationInvalid,
    InvitationUsed,
    ProvisioningFailed,
    SlugInvalid,
    SlugTaken,
)
from tenants.hosts import tenant_url
from tenants.models import Membership, Tenant, User
from tenants.selectors import slug_availability
from tenants.services import team as team_services


def home(request):
    return render(request, "public_site/home.html", {"base_domain": settings.BASE_DOMAIN, "plans": PLANS})


# The plan the pricing page puts forward.
FEATURED_PLAN = "pro"


def pricing(request):
    """The plans, priced monthly or (``?billing=yearly``) yearly."""
    yearly = request.GET.get("billing") == "yearly"
    return render(
        request, "public_site/pricing.html", {"plans": PLANS, "yearly": yearly, "featured": FEATURED_PLAN}
    )


def getting_started(request):
    return render(
        request,
        "public_site/getting_started.html",
        {"base_domain": settings.BASE_DOMAIN, "doc": "getting-started"},
    )


def error_reference(request):
    """Every problem-details ``code`` the APIs answer with (the ``type`` URIs point here)."""
    codes = sorted((code, status, title) for code, (status, title) in REGISTRY.items())
    return render(request, "public_site/errors.html", {"codes": codes, "doc": "errors"})


def _signup_atomically(view, form, form_valid):
    """allauth's signup, made all-or-nothing: the account and its workspace are created in
    one transaction, so a failed provisioning leaves no orphan user behind."""
    try:
        with transaction.atomic():
            return form_valid(form)
    except (SlugTaken, SlugInvalid) as error:  # lost a race since the form was validated
        form.add_error("slug", (error.errors or {})["slug"][0]["message"])
    except ProvisioningFailed:
        form.add_error(
            None,
            "We could not create your workspace just now. Nothing was saved: "
            "please submit the form again in a minute.",
        )
    return view.form_invalid(form)


class SignupView(allauth_views.SignupView):
    """Sign up with an email address and password."""

    def form_valid(self, form):
        return _signup_atomically(self, form, super().form_valid)


class SocialSignupView(social_views.SignupView):
    """Sign up after Google or Microsoft: the same workspace fields, in one transaction."""

    def form_valid(self, form):
        return _signup_atomically(self, form, super().form_valid)


@require_GET
def slug_check(request):
    """Live availability check for the signup form: 200 with the normalized slug, or
    problem details (422 slug_invalid / slug_taken) naming what is wrong."""
    retry_after = rate_limit(request, "slug-check", limit=120, period_s=60)
    if retry_after:
        return problem_response(RateLimited(headers={"Retry-After": str(retry_after)}))
    try:
        slug = slug_availability(request.GET.get("slug", ""))
    except ProblemError as error:
        return problem_response(error)
    return JsonResponse({"slug": slug, "available": True, "address": f"{slug}.{settings.BASE_DOMAIN}"})


def _memberships(user: User) -> list[Membership]:
    """The workspaces ``user`` belongs to (not those being deleted), by name."""
    return list(
        Membership.objects.filter(user=user)
        .exclude(tenant__status=Tenant.Status.DELETING)
        .select_related("tenant")
        .order_by("tenant__name")
    )


@login_required
def workspaces(request):
    memberships = _memberships(request.user)
    if len(memberships) == 1 and memberships[0].tenant.status == Tenant.Status.ACTIVE:
        return redirect("public_site:workspace-open", slug=memberships[0].tenant.slug)
    return render(
        request,
        "public_site/workspaces.html",
        {"memberships": memberships, "base_domain": settings.BASE_DOMAIN},
    )


@login_required
def profile(request):
    """The signed-in person's account: addresses, password, workspaces, sign-out."""
    context = {
        "emailaddresses": list(EmailAddress.objects.filter(user=request.user).order_by("-primary", "email")),
        "memberships": _memberships(request.user),
        "base_domain": settings.BASE_DOMAIN,
    }
    return render(request, "public_site/profile.html", context)


@login_required
def workspace_open(request, slug: str):
    """Send a signed-in member to their workspace with a one-time token (404 otherwise).

    A session signed in here (password, Google, Microsoft) is refused for a workspace that
    requires its own single sign-on, except for its owners (sso.selectors)."""
    membership = (
        Membership.objects.filter(user=request.user, tenant__slug=slug, tenant__status=Tenant.Status.ACTIVE)
        .select_related("tenant")
        .first()
    )
    if membership is None:
        raise Http404
    if password_entry_refused(membership) is not None:
        return sso_views.required(request, slug=membership.tenant.slug, name=membership.tenant.name)
    token = tenant_services.login_handoff_start(
        user=request.user, tenant=membership.tenant, session=request.session
    )
    return redirect(tenant_url(request, membership.tenant, f"/auth/handoff?token={token}"))


def invitation(request, token: str):
    """Accept an invitation: signed in as the invited address, or by creating the account
    (the link proves the inbox), or by signing in first when the account exists."""
    try:
        invite = team_services.invitation_resolve(token)
    except (InvitationExpired, InvitationUsed) as error:
        return render(request, "public_site/invitation_problem.html", {"error": error}, status=error.status)
    except InvitationInvalid as error:
        raise Http404 from error

    account = (
        User.objects.filter(email__iexact=invite.email).first()
        or User.objects.filter(emailaddress__email__iexact=invite.email, emailaddress__verified=True).first()
    )
    signed_in_as_invitee = request.user.is_authenticated and request.user.email.lower() == invite.email
    context = {
        "invite": invite,
        "account_exists": account is not None,
        "matches": signed_in_as_invitee,
        "login_next": f"{reverse('account_login')}?next={request.path}",
    }
    if request.method != "POST":
        return render(request, "public_site/invitation.html", context)

    if request.user.is_authenticated:
        if not signed_in_as_invitee:
            return render(request, "public_site/invitation.html", context, status=403)
        user = request.user
    elif account is None:
        try:
            with transaction.atomic():
                user = team_services.user_create_for_invitation(
                    invitation=invite, password=request.POST.get("password", "")
                )
                team_services.invitation_accept(invitation=invite, user=user)
        except ValidationFailed as error:
            context["errors"] = [e["message"] for errs in (error.errors or {}).values() for e in errs]
            return render(request, "public_site/invitation.html", context, status=422)
        except (InvitationUsed, IntegrityError):  # a concurrent click got there first
            used = InvitationUsed("Sign in to open the workspace.")
            return render(request, "public_site/invitation_problem.html", {"error": used}, status=410)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("public_site:workspace-open", slug=invite.tenant.slug)
    else:
        return redirect(context["login_next"])

    try:
        team_services.invitation_accept(invitation=invite, user=user)
    except InvitationUsed as error:
        return render(request, "public_site/invitation_problem.html", {"error": error}, status=410)
    return redirect("public_site:workspace-open", slug=invite.tenant.slug)
