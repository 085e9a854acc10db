"""Writes of the actions domain: defining actions (:mod:`.definitions`) and calling them
(:mod:`.calls`); MCP servers as a source of actions (:mod:`.mcp`)."""

from .calls import TESTS_PER_MINUTE, Outcome, action_call, action_declined, action_test, confirmation_summary
from .definitions import (
    OFFERED_KEY,
    action_create,
    action_delete,
    action_secret_rotate,
    action_update,
    actions_import,
    offered_forget,
    offered_key,
    widget_removed,
)
from .mcp import (
    MCP_OFFERED_KEY,
    mcp_server_create,
    mcp_server_delete,
    mcp_server_secret_rotate,
    mcp_server_update,
    mcp_tool_call,
    mcp_tool_test,
    mcp_tools_refresh,
    offered_name,
    server_tool,
)

__all__ = [
    "MCP_OFFERED_KEY",
    "OFFERED_KEY",
    "TESTS_PER_MINUTE",
    "Outcome",
    "action_call",
    "action_create",
    "action_declined",
    "action_delete",
    "action_secret_rotate",
    "action_test",
    "action_update",
    "actions_import",
    "confirmation_summary",
    "mcp_server_create",
    "mcp_server_delete",
    "mcp_server_secret_rotate",
    "mcp_server_update",
    "mcp_tool_call",
    "mcp_tool_test",
    "mcp_tools_refresh",
    "offered_forget",
    "offered_key",
    "offered_name",
    "server_tool",
    "widget_removed",
]
