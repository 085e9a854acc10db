"""``{% support_accesses_card %}``: the workspace's support accesses for its owners and
admins (``templates/tenants/_support_accesses.html``), on any dashboard page, without the
page's view passing anything."""

from __future__ import annotations

from typing import Any

from django import template

from ..dashboard import MANAGERS
from ..models import Membership
from ..support import support_accesses_for

register = template.Library()


@register.inclusion_tag("tenants/_support_accesses.html", takes_context=True)
def support_accesses_card(context: template.Context, limit: int = 5) -> dict[str, Any]:
    request = context["request"]
    membership = getattr(request, "membership", None)
    if membership is None or membership.role not in MANAGERS:
        return {"show": False}
    return {
        "show": True,
        "request": request,
        "csrf_token": context.get("csrf_token"),
        "support_accesses": support_accesses_for(request.tenant, limit=limit),
        "can_end": membership.role == Membership.Role.OWNER,
        "more_url": "/dashboard/support-access/",
    }
