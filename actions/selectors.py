"""Reads of the actions domain."""

from __future__ import annotations

import json
from typing import Any

from django.db.models import QuerySet

from saas.crypto import secret_decrypt

from .models import Action, ActionCall, McpServer


def action_signing_secret(action: Action) -> str:
    """The secret the tenant's server verifies calls with (shown to owners and admins)."""
    return secret_decrypt(action.signing_secret)


def actions_enabled() -> list[Action]:
    return list(Action.objects.filter(is_enabled=True))


def action_header_names(action: Action) -> list[str]:
    """The names of the headers an action sends (their values are never shown)."""
    return sorted(json.loads(secret_decrypt(action.headers))) if action.headers else []


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
