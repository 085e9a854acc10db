"""The catalogue of the workspace audit log: every action code an event may carry, with the
words the page shows and the category it is filtered by. One place: an app recording a new
action adds it here (or registers it with :func:`action_register` from its
``AppConfig.ready()``). A code missing from the catalogue is still recorded and shown as
its code, under "Other" (an event is never lost for want of a label).

Codes are lowercase ``noun.verb_past``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Action:
    code: str
    label: str
    category: str


CATEGORIES: dict[str, str] = {
    "workspace": "Workspace",
    "team": "Team",
    "api": "API keys",
    "widgets": "Widgets",
    "bot": "Bot",
    "knowledge": "Knowledge",
    "automations": "Automations",
    "inbox": "Inbox",
    "webhooks": "Webhooks",
    "actions": "AI actions",
    "exports": "Exports",
    "billing": "Billing",
    "privacy": "Privacy and retention",
    "sign_in": "Single sign-on",
    "support": "Staff support",
    "other": "Other",
}

_ACTIONS = [
    Action("workspace.settings_changed", "Changed the workspace settings", "workspace"),
    Action("member.invited", "Invited a member", "team"),
    Action("member.invitation_revoked", "Revoked an invitation", "team"),
    Action("member.joined", "Joined the workspace", "team"),
    Action("member.role_changed", "Changed a member's role", "team"),
    Action("member.removed", "Removed a member", "team"),
    Action("api_key.created", "Created an API key", "api"),
    Action("api_key.revoked", "Revoked an API key", "api"),
    Action("widget.created", "Created a widget", "widgets"),
    Action("widget.updated", "Changed a widget's settings", "widgets"),
    Action("widget.published", "Published a widget", "widgets"),
    Action("widget.deleted", "Deleted a widget", "widgets"),
    Action("widget.secret_rotated", "Rotated a widget's identity secret", "widgets"),
    Action("bot.settings_changed", "Changed the bot's settings", "bot"),
    Action("bot.llm_key_set", "Set the bot's own LLM key", "bot"),
    Action("bot.llm_key_removed", "Removed the bot's own LLM key", "bot"),
    Action("knowledge_base.created", "Created a knowledge base", "knowledge"),
    Action("knowledge_base.deleted", "Deleted a knowledge base", "knowledge"),
    Action("source.added", "Added a knowledge source", "knowledge"),
    Action("source.deleted", "Deleted a knowledge source", "knowledge"),
    Action("automation.created", "Created an automation", "automations"),
    Action("automation.updated", "Changed an automation", "automations"),
    Action("automation.deleted", "Deleted an automation", "automations"),
    Action("inbox.settings_changed", "Changed the inbox settings", "inbox"),
    Action("webhook_endpoint.created", "Added a webhook endpoint", "webhooks"),
    Action("webhook_endpoint.updated", "Changed a webhook endpoint", "webhooks"),
    Action("webhook_endpoint.deleted", "Deleted a webhook endpoint", "webhooks"),
    Action("webhook_endpoint.secret_rotated", "Rotated a webhook endpoint's secret", "webhooks"),
    Action("webhook_endpoint.auto_disabled", "A webhook endpoint was disabled after failing", "webhooks"),
    Action("action.created", "Added an AI action", "actions"),
    Action("action.updated", "Changed an AI action", "actions"),
    Action("action.deleted", "Deleted an AI action", "actions"),
    Action("action.secret_rotated", "Rotated an AI action's signing secret", "actions"),
    Action("mcp_server.created", "Added an MCP server", "actions"),
    Action("mcp_server.updated", "Changed an MCP server", "actions"),
    Action("mcp_server.deleted", "Deleted an MCP server", "actions"),
    Action("mcp_server.secret_rotated", "Rotated an MCP server's signing secret", "actions"),
    Action("mcp_server.tools_refreshed", "Listed an MCP server's tools again", "actions"),
    Action("export.requested", "Requested a CSV export", "exports"),
    Action("billing.plan_changed", "Changed the plan", "billing"),
    Action("billing.subscription_canceled", "Canceled the subscription", "billing"),
    Action("contact.exported", "Exported a contact's data", "privacy"),
    Action("contact.erased", "Erased a contact", "privacy"),
    Action("conversation.deleted", "Deleted a conversation", "privacy"),
    Action("retention.updated", "Changed the data retention periods", "privacy"),
    Action("retention.narrowed", "Shortened the retention periods to the plan's", "privacy"),
    Action("retention.purged", "Removed data past its retention period", "privacy"),
    Action("workspace.export_requested", "Requested an export of the workspace", "privacy"),
    Action("workspace.deletion_requested", "Asked to delete the workspace", "privacy"),
    Action("workspace.deletion_scheduled", "Confirmed the workspace's deletion", "privacy"),
    Action("workspace.deletion_cancelled", "Cancelled the workspace's deletion", "privacy"),
    Action("sso.configured", "Set up single sign-on", "sign_in"),
    Action("sso.settings_changed", "Changed the single sign-on settings", "sign_in"),
    Action("sso.removed", "Removed single sign-on", "sign_in"),
    Action("member.joined_by_sso", "Joined through single sign-on", "team"),
    Action("support_access.opened", "Platform staff opened the workspace for support", "support"),
    Action("support_access.ended", "Ended a staff support access", "support"),
]
ACTIONS: dict[str, Action] = {a.code: a for a in _ACTIONS}


def action_register(*, code: str, label: str, category: str) -> Action:
    """Add an action another app records (retention, GDPR tools, …) at start-up, from its
    ``AppConfig.ready()``. A code already declared with other words is a configuration error."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown audit category {category!r}")
    found = ACTIONS.get(code)
    action = Action(code, label, category)
    if found is not None and found != action:
        raise ValueError(f"audit action {code!r} is declared twice")
    ACTIONS[code] = action
    return action


def action_label(code: str) -> str:
    """The words for ``code``; an unknown code (recorded by a newer release) reads as itself."""
    found = ACTIONS.get(code)
    return found.label if found else code


def action_category(code: str) -> str:
    found = ACTIONS.get(code)
    return found.category if found else "other"


def codes_of_category(category: str) -> list[str]:
    """The catalogued codes of ``category`` ("other" has none: it is everything else)."""
    return sorted(code for code, a in ACTIONS.items() if a.category == category)
