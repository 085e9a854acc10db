"""The tenant dashboard shell: who may open which section, and the onboarding checklist.

Sections are data (one list, one place): the navigation, the role checks and the role
matrix test all read :data:`SECTIONS`. Feature apps contribute onboarding steps through
:func:`onboarding_step_register` (the registry keeps the dependency direction).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.http import Http404

from .models import Membership

ALL_ROLES = frozenset(Membership.Role.values)
MANAGERS = frozenset({Membership.Role.OWNER, Membership.Role.ADMIN})


@dataclass(frozen=True)
class Section:
    key: str
    label: str
    roles: frozenset[str]
    ready: bool = False  # False: the page says plainly that the feature is not built yet


SECTIONS: list[Section] = [
    Section("widgets", "Widgets", ALL_ROLES, ready=True),
    Section("knowledge", "Knowledge", ALL_ROLES, ready=True),
    Section("conversations", "Conversations", ALL_ROLES, ready=True),
    Section("analytics", "Analytics", ALL_ROLES),
    Section("team", "Team", MANAGERS, ready=True),
    Section("billing", "Billing", MANAGERS, ready=True),
    Section("settings", "Settings", MANAGERS),
    Section("api", "API", MANAGERS, ready=True),
]
SECTIONS_BY_KEY = {s.key: s for s in SECTIONS}


def member_required(roles: frozenset[str] = ALL_ROLES):
    """View decorator: a signed-in member of this tenant with one of ``roles``.

    Anonymous: redirect to sign in. Not a member: 404 (do not confirm the workspace exists).
    A member without the role: 403. The membership is put on ``request.membership``.
    """

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                from django.contrib.auth.views import redirect_to_login

                return redirect_to_login(request.get_full_path())
            membership = Membership.objects.filter(tenant=request.tenant, user=request.user).first()
            if membership is None:
                raise Http404
            if membership.role not in roles:
                raise PermissionDenied("Your role in this workspace does not include this page.")
            request.membership = membership
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


@dataclass(frozen=True)
class OnboardingStep:
    key: str
    label: str
    order: int
    is_done: Callable[[], bool]  # runs in the tenant's schema
    hint: str


ONBOARDING_STEPS: dict[str, OnboardingStep] = {}


def onboarding_step_register(step: OnboardingStep) -> None:
    ONBOARDING_STEPS[step.key] = step


def onboarding_checklist() -> list[tuple[OnboardingStep, bool]]:
    """Each step with whether the tenant has done it (read from its data, never stored)."""
    steps = sorted(ONBOARDING_STEPS.values(), key=lambda s: s.order)
    return [(step, step.is_done()) for step in steps]
