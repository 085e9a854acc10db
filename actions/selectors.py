"""Reads of the actions domain."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from billing.limits import quota_limit
from billing.selectors import usage_value
from saas.crypto import secret_decrypt
from tenants.models import Tenant

from .models import Action, ActionCall, McpServer


def action_signing_secret(action: Action) -> str:
    """The secret the tenant's server verifies calls with (shown to owners and admins)."""
    return secret_decrypt(action.signing_secret)


def actions_enabled() -> list[Action]:
    return list(Action.objects.filter(is_enabled=True))


def action_header_names(action: Action) -> list[str]:
    """The names of the headers an action sends (their values are never shown)."""
    return sorted(json.loads(secret_decrypt(action.headers))) if action.headers else []


def action_widget_ids(action: Action) -> list[int]:
    """The widgets an action is limited to (empty: every widget)."""
    return sorted(w.pk for w in action.widgets.all())


def action_headers(action: Action) -> dict[str, str]:
    """The headers with their values (server side only: to keep them when a form changes
    others)."""
    headers: dict[str, str] = json.loads(secret_decrypt(action.headers)) if action.headers else {}
    return headers


def action_by_public_id(public_id: Any) -> Action | None:
    return Action.objects.prefetch_related("widgets").filter(public_id=public_id).first()


# Calls that say the endpoint is broken or unreachable (a failure rate's numerator).
FAILED_STATUSES = (
    ActionCall.Status.FAILED,
    ActionCall.Status.TIMED_OUT,
    ActionCall.Status.UNREADABLE,
    ActionCall.Status.REFUSED,
)
OVERVIEW_DAYS = 7


def actions_overview() -> list[Action]:
    """Every action with, over the last 7 days, its calls by the bot (``calls_recent``) and
    the failed ones (``failed_recent``), its last call's status (``last_status``, the test
    runner's too) and ``failure_rate`` (a percentage, None without calls). One query."""
    since = timezone.now() - timedelta(days=OVERVIEW_DAYS)
    recent = Q(calls__created_at__gte=since, calls__source=ActionCall.Source.ANSWER)
    last = ActionCall.objects.filter(action=OuterRef("pk")).order_by("-created_at", "-id")
    rows: list[Action] = list(
        Action.objects.prefetch_related("widgets")
        .annotate(
            calls_recent=Count("calls", filter=recent),
            failed_recent=Count("calls", filter=recent & Q(calls__status__in=FAILED_STATUSES)),
            last_status=Subquery(last.values("status")[:1]),
            last_called_at=Subquery(last.values("created_at")[:1]),
        )
        .order_by("name")
    )
    for row in rows:
        calls, failed = getattr(row, "calls_recent", 0), getattr(row, "failed_recent", 0)
        row.failure_rate = round(100 * failed / calls) if calls else None  # type: ignore[attr-defined]
    return rows


def calls_quota(tenant: Tenant) -> tuple[int, int | None]:
    """This period's AI action calls by the bot and the plan's limit (None: unlimited)."""
    return usage_value(tenant_id=tenant.pk, metric="action_calls"), quota_limit(tenant, "action_calls")


def calls_filtered(*, action: Action | None = None, status: str = "") -> QuerySet[ActionCall]:
    """The workspace's calls, newest first, of one action and of one status if given."""
    rows = ActionCall.objects.select_related("action")
    if action is not None:
        rows = rows.filter(action=action)
    if status:
        rows = rows.filter(status=status)
    return rows.order_by("-created_at", "-id")


def action_calls(action: Action, *, status: str | None = None) -> QuerySet[ActionCall]:
    rows = ActionCall.objects.filter(action=action)
    return rows.filter(status=status) if status else rows


def contact_action_calls(contact: Any) -> list[dict[str, Any]]:
    """The calls made for a visitor (their inputs may be personal data), for their export."""
    rows = ActionCall.objects.filter(contact=contact).order_by("created_at", "pk")
    return [
        {
            "id": str(call.public_id),
            "action": call.action_name,
            "conversation_id": call.conversation_id,
            "arguments": call.arguments,
            "status": call.status,
            "result": call.result,
            "created_at": call.created_at,
        }
        for call in rows
    ]


def mcp_server_signing_secret(server: McpServer) -> str:
    """The secret the MCP server verifies the platform's requests with."""
    return secret_decrypt(server.signing_secret)


def mcp_server_header_names(server: McpServer) -> list[str]:
    return sorted(json.loads(secret_decrypt(server.headers))) if server.headers else []


def mcp_server_calls(server: McpServer, *, status: str | None = None) -> QuerySet[ActionCall]:
    rows = ActionCall.objects.filter(mcp_server=server)
    return rows.filter(status=status) if status else rows


def mcp_server_headers(server: McpServer) -> dict[str, str]:
    """The headers with their values (server side only: to keep them when a form changes
    others)."""
    headers: dict[str, str] = json.loads(secret_decrypt(server.headers)) if server.headers else {}
    return headers


def mcp_server_by_public_id(public_id: Any) -> McpServer | None:
    return McpServer.objects.filter(public_id=public_id).first()


def mcp_servers_overview() -> list[McpServer]:
    """Every MCP server with its tools' calls by the bot over the last 7 days
    (``calls_recent``) and the tools allowed and listed (``allowed_count``,
    ``listed_count``). One query."""
    since = timezone.now() - timedelta(days=OVERVIEW_DAYS)
    recent = Q(calls__created_at__gte=since, calls__source=ActionCall.Source.ANSWER)
    rows: list[McpServer] = list(McpServer.objects.annotate(calls_recent=Count("calls", filter=recent)))
    for row in rows:
        listed = {str(t.get("name")) for t in row.tools}
        row.listed_count = len(listed)  # type: ignore[attr-defined]
        row.allowed_count = len([n for n in row.allowed_tools if n in listed])  # type: ignore[attr-defined]
    return rows
