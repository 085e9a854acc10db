"""The tenant dashboard shell: who may open which section, and the onboarding checklist.

Sections are data (one list, one place): the navigation, the role checks and the role
matrix test all read :data:`SECTIONS`. Every dashboard page is declared with one
decorator, :func:`dashboard_page`, naming its section: the section says who may open its
pages (``roles``) and who may change what they show (``manage_roles``: every POST, and the
pages that exist only to change settings). Feature apps contribute the onboarding
checklist's steps through their ``Contributions`` (``tenants.contributions``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.utils.cache import patch_cache_control

from .contributions import OnboardingStep, contributions
from .models import Membership, SupportAccess, User
from .requests import SignedInTenantRequest
from .support import support_access_of_session, support_session_grant_id

ALL_ROLES = frozenset(Membership.Role.values)
MANAGERS = frozenset({Membership.Role.OWNER, Membership.Role.ADMIN})
# The role of a staff member's read-only support session (tenants.support): it may open
# every section's pages (added to each ``roles`` below) and is never a manager.
SUPPORT_ROLE = "support"


@dataclass(frozen=True)
class Section:
    key: str
    label: str
    roles: frozenset[str]  # who may open the section's pages
    manage_roles: frozenset[str] = MANAGERS  # who may change what they show
    icon: str = "circle"  # a name in static/ui/icons.svg

    def __post_init__(self) -> None:
        # Support reads every section; it never changes anything.
        object.__setattr__(self, "roles", self.roles | {SUPPORT_ROLE})
        if SUPPORT_ROLE in self.manage_roles:
            raise ValueError("a support session never manages a section")

    @property
    def path(self) -> str:
        return "/dashboard/" if self.key == "home" else f"/dashboard/{self.key}/"


SECTIONS: list[Section] = [
    # Agents act on conversations (reply, assign, resolve); the inbox's settings check managers.
    Section("conversations", "Inbox", ALL_ROLES, manage_roles=ALL_ROLES, icon="inbox"),
    Section("contacts", "Contacts", ALL_ROLES, manage_roles=ALL_ROLES, icon="contact"),  # agents export too
    Section("widgets", "Widgets", ALL_ROLES, icon="message-circle"),
    Section("knowledge", "Knowledge", ALL_ROLES, icon="book-open"),
    Section("analytics", "Analytics", ALL_ROLES, icon="chart-column"),
    Section("quality", "Answer quality", ALL_ROLES, icon="sparkles"),
    # Agents see the actions and their calls; owners and admins define, test and delete them.
    Section("actions", "AI actions", ALL_ROLES, icon="zap"),
    Section("team", "Team", MANAGERS, icon="users"),
    Section("billing", "Billing", MANAGERS, icon="credit-card"),
    Section("settings", "Settings", MANAGERS, icon="settings"),
    Section("api", "API", MANAGERS, icon="key-round"),
]
SECTIONS_BY_KEY = {s.key: s for s in SECTIONS}
HOME = Section("home", "Home", ALL_ROLES, icon="layout-dashboard")  # the landing page
READ_METHODS = frozenset({"GET", "HEAD"})


class DashboardRequest(SignedInTenantRequest):
    """A request that :func:`dashboard_page` let through (for annotations only): a member
    of the host's tenant, signed in, whose role the page's section allows."""

    membership: Membership
    section: Section
    support_access: SupportAccess | None  # set for a staff member's support session


View = Callable[..., HttpResponseBase]


def dashboard_page(section: str, *, manage: bool = False) -> Callable[[View], View]:
    """Declare a dashboard page of ``section`` (a key of :data:`SECTIONS`, or "home").

    A signed-in member whose role the section allows: ``roles`` to read it, ``manage_roles``
    to post to it (or to open it at all with ``manage=True``, for pages that exist only to
    change settings). Anonymous: redirect to sign in. Not a member: 404 (do not confirm the
    workspace exists). A member without the role: 403. Sets ``request.membership`` and
    ``request.section``; the page is never cached (it may show visitors' personal data).

    A staff member's support session (``tenants.support``) passes as a read-only member
    (role :data:`SUPPORT_ROLE`, ``request.support_access`` set, ``request.user`` the staff
    member) while its grant is live: any method but GET/HEAD is refused (403), on every
    page, ``manage=True`` ones included (their forms show, nothing posts); once the grant
    has ended or expired, every page is refused.
    """
    found = HOME if section == HOME.key else SECTIONS_BY_KEY[section]

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(http_request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            request = cast(DashboardRequest, http_request)  # given its membership and section below
            request.support_access = None
            membership: Membership | None
            if support_session_grant_id(request.session) is not None:
                membership = support_membership(request)
            elif not request.user.is_authenticated:
                return sign_in_redirect(request)
            else:
                membership = membership_of(request)
            if membership is None:
                raise Http404
            changing = request.method not in READ_METHODS or (manage and request.support_access is None)
            if membership.role not in (found.manage_roles if changing else found.roles):
                raise PermissionDenied("Your role in this workspace does not include this page.")
            request.membership, request.section = membership, found
            response = view(request, *args, **kwargs)
            patch_cache_control(response, no_store=True)
            return response

        # The section, kept on the view for code that walks the URL conf (a function attribute).
        wrapper.dashboard_section = found  # type: ignore[attr-defined]
        return wrapper

    return decorate


def sign_in_redirect(request: HttpRequest) -> HttpResponseBase:
    """To sign in, then back. An htmx request (a partial polled by a page whose session has
    ended) gets the redirect as ``HX-Redirect`` for the whole page, back to that page, rather
    than the sign-in page swapped into a corner of it."""
    if getattr(request, "htmx", False):
        current = urlsplit(request.headers.get("HX-Current-URL", ""))
        local = current.path.startswith("/") and not current.path.startswith("//")
        back = current.path if local else "/dashboard/"
        response = HttpResponse(status=204)
        response["HX-Redirect"] = redirect_to_login(back + (f"?{current.query}" if current.query else "")).url
        return response
    return redirect_to_login(request.get_full_path())


def support_membership(request: DashboardRequest) -> Membership:
    """A support session's stand-in membership (never saved), with the staff member as
    ``request.user``; refuses a session whose grant is no longer live, and every write."""
    grant = support_access_of_session(tenant=request.tenant, session=request.session)
    if grant is None:
        raise PermissionDenied(
            "This support access has ended. Open the workspace again from the platform admin."
        )
    if request.method not in READ_METHODS:
        raise PermissionDenied("Support access is read-only.")
    request.support_access = grant
    request.user = cast(User, grant.staff)
    return Membership(tenant=request.tenant, user=request.user, role=SUPPORT_ROLE)


def membership_of(request: SignedInTenantRequest) -> Membership | None:
    """The signed-in user's membership in the request's tenant (None for outsiders)."""
    return Membership.objects.filter(tenant=request.tenant, user=request.user).first()


def can_manage(request: DashboardRequest) -> bool:
    """Whether the page's viewer may change what it shows (for showing the controls)."""
    return request.membership.role in request.section.manage_roles


def onboarding_checklist() -> list[tuple[OnboardingStep, bool]]:
    """Each contributed step, in order, with whether the tenant has done it (read from its
    data in the active schema, never stored)."""
    return [(step, step.is_done()) for step in contributions().onboarding_steps]
