"""What the dashboard's app shell shows around every page: the sections the member may
open, the workspace switcher, the plan and the user menu. Read lazily: a page that renders
without the shell (a partial for htmx) runs none of these queries."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from .contributions import PlanSummary, contributions
from .dashboard import HOME, SECTIONS, Section
from .hosts import public_url
from .models import Membership, Tenant

if TYPE_CHECKING:
    from .dashboard import DashboardRequest


@dataclass(frozen=True)
class WorkspaceLink:
    name: str
    url: str
    current: bool


@dataclass(frozen=True)
class NavItem:
    section: Section
    badge: int  # 0: none shown


class Shell:
    def __init__(self, request: DashboardRequest) -> None:
        self.request = request

    @cached_property
    def sections(self) -> list[Section]:
        role = self.request.membership.role
        return [HOME, *(s for s in SECTIONS if role in s.roles)]

    @cached_property
    def nav(self) -> list[NavItem]:
        """The sections with the count an app shows beside them (the inbox's unread)."""
        badges = contributions().nav_badges
        membership = self.request.membership
        return [
            NavItem(
                s,
                badges[s.key](user_id=self.request.user.pk, role=membership.role) if s.key in badges else 0,
            )
            for s in self.sections
        ]

    @cached_property
    def workspaces(self) -> list[WorkspaceLink]:
        """Every serving workspace the user belongs to, this one first; the others open
        through the public host (a sign-in hand-off, as from the workspace list)."""
        memberships = (
            Membership.objects.filter(user=self.request.user, tenant__status=Tenant.Status.ACTIVE)
            .select_related("tenant")
            .order_by("tenant__name")
        )
        here = self.request.tenant.pk
        links = [
            WorkspaceLink(
                name=m.tenant.name,
                url="/dashboard/"
                if m.tenant_id == here
                else public_url(self.request, f"/workspaces/{m.tenant.slug}/open"),
                current=m.tenant_id == here,
            )
            for m in memberships
        ]
        return sorted(links, key=lambda link: not link.current)

    @cached_property
    def plan(self) -> PlanSummary | None:
        read = contributions().plan_summary
        return read(self.request.tenant) if read is not None else None

    @property
    def can_upgrade(self) -> bool:
        billing = next((s for s in SECTIONS if s.key == "billing"), None)
        return bool(
            self.plan and self.plan.upgradable and billing and self.request.membership.role in billing.roles
        )

    @property
    def all_workspaces_url(self) -> str:
        return public_url(self.request, "/workspaces/")

    @property
    def profile_url(self) -> str:
        return public_url(self.request, "/account/")
