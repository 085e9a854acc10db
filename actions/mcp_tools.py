"""The allowed tools of the workspace's MCP servers as tools the bot may call while it
answers, beside the actions (``actions.tools`` offers both). Each is named
``<server>__<tool>`` for the model; a call runs through :func:`actions.services.mcp_tool_call`
with the conversation's visitor and is noted in the transcript for agents.

Offered: the allowed tools (in the server's last tool list, with a usable schema) of every
enabled server. Those of a server that ``requires_confirmation`` are not called when the
model asks: the answer ends with the confirmation card, as for an action
(``services.confirmations``), and the call runs when the visitor confirms. A name the model
sends that is not offered is never called."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache

from chat.llm.base import Tool
from chat.models import Conversation
from tenants.contributions import ToolCard

from . import services
from .models import Action, ActionCall, McpServer
from .services import MCP_OFFERED_KEY

OFFERED_SECONDS = 3600
VERIFIED_NOTE = " (Only for visitors signed in on the website; the platform checks it.)"
CONFIRM_NOTE = " (The visitor confirms in the chat before it runs: call it, then wait for their answer.)"

# (name for the model, description, input schema, server pk, the server's tool name)
Offered = tuple[str, str, dict[str, Any], int, str]


def _offered_rows() -> list[Offered]:
    """Kept in the workspace's cache, forgotten when a server or its tool list changes."""
    rows: list[Offered] | None = cache.get(MCP_OFFERED_KEY)
    if rows is None:
        rows = []
        servers = McpServer.objects.filter(is_enabled=True).order_by("name")
        for server in servers:
            note = VERIFIED_NOTE if server.audience == Action.Audience.VERIFIED else ""
            note += CONFIRM_NOTE if server.requires_confirmation else ""
            for tool in sorted(server.tools, key=lambda t: str(t["name"])):
                if services.server_tool(server, tool["name"]) is None:
                    continue
                description = (tool["description"] or tool["title"] or tool["name"])[
                    : 1000 - len(note)
                ] + note
                name = services.offered_name(server.name, tool["name"])
                rows.append((name, description, tool["input_schema"], server.pk, tool["name"]))
        cache.set(MCP_OFFERED_KEY, rows, timeout=OFFERED_SECONDS)
    return rows


def offered(taken: set[str]) -> list[Tool]:
    """The MCP tools offered, but those whose name an action has (``taken``)."""
    return [
        Tool(name=name, description=description, parameters=schema)
        for name, description, schema, _pk, _tool in _offered_rows()
        if name not in taken
    ]


def call(
    *, conversation_id: int, name: str, arguments: dict[str, Any], arguments_error: str
) -> tuple[str, bool] | ToolCard:
    """The call of an offered MCP tool ``name`` (or the visitor's confirmation card); any
    other name is told there is no such tool."""
    found = next((row for row in _offered_rows() if row[0] == name), None)
    server = None
    if found is not None:
        server = McpServer.objects.filter(pk=found[3], is_enabled=True).first()
    if found is None or server is None:
        return f"There is no tool named {name!r}; use only the tools offered.", True
    conversation = Conversation.objects.select_related("contact").get(pk=conversation_id)
    outcome = services.mcp_tool_call(
        server=server,
        tool=found[4],
        arguments=arguments,
        arguments_error=arguments_error,
        contact=conversation.contact,
        conversation=conversation,
        source=ActionCall.Source.ANSWER,
    )
    if outcome.needs_confirmation:
        return services.mcp_confirmation_ask(
            server=server, tool=found[4], arguments=arguments, conversation=conversation
        )
    if outcome.call is not None:
        services.mcp_call_note(conversation, server, outcome.call)
    return outcome.result, not outcome.ok
