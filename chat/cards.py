"""The cards the widget shows under a bot message (``Message.card``): an AI action waiting
for the visitor, as a confirmation (Confirm / Cancel, the inputs in plain words) or as a form
(the inputs asked). The app that owns the actions builds them (``tenants.contributions.
ToolCard``); chat stores, shows and settles them, knowing only this shape:

    {"kind": "confirm" | "form", "id": "<uuid>", "title": "...", "state": "pending" |
     "confirmed" | "declined", "expires_at": "<ISO 8601>", ...what the kind shows...,
     "tool": {...}}

``tool`` is never shown to visitors: the model's calls of the round that asked for the
card, the results of those that ran and the id of the one that waits (``waiting``). Once
the visitor answered, the waiting call has its result too, and the history of the next
answers gives the model its calls and their results (``chat.answering.prompt``). Pure
functions: no database."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from tenants.contributions import ToolCard

from .llm.base import ToolCall, ToolResult

PENDING = "pending"
EXPIRED = "expired"
# The client message ids the platform gives the messages a card brings (the visitor's
# choice, a form's answer): a client's own id may not take them first.
RESERVED_CLIENT_IDS = ("card:", "reply:")


def client_id_unreserved(value: str) -> None:
    """A validator of clients' message ids: none of the platform's own forms."""
    if value.startswith(RESERVED_CLIENT_IDS):
        raise ValidationError("This id is reserved: choose one that starts otherwise.", code="reserved")


def card_with_tool(found: ToolCard, *, calls: list[ToolCall], waiting: str) -> ToolCard:
    """The card with the round's calls, the one with id ``waiting`` waiting for the visitor."""
    tool = {
        "calls": [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in calls],
        "results": [],
        "waiting": waiting,
    }
    return dataclasses.replace(found, card={**found.card, "tool": tool})


def card_results(found: ToolCard, results: list[ToolResult]) -> ToolCard:
    """The card with the results of the round's calls that did not wait."""
    tool = dict(found.card.get("tool") or {})
    tool["results"] = [{"call_id": r.call_id, "content": r.content, "is_error": r.is_error} for r in results]
    return dataclasses.replace(found, card={**found.card, "tool": tool})


def card_settled(card: dict[str, Any], *, state: str, result: str, is_error: bool) -> dict[str, Any]:
    """The card once the visitor answered: its state, and the waiting call's result."""
    settled = {**card, "state": state}
    tool = card.get("tool")
    if tool and tool.get("waiting"):
        results = [
            *tool.get("results", []),
            {"call_id": tool["waiting"], "content": result, "is_error": is_error},
        ]
        settled["tool"] = {**tool, "results": results, "waiting": ""}
    return settled


def card_visible(card: dict[str, Any] | None) -> dict[str, Any] | None:
    """The card as visitors see it: without the tool call, ``expired`` once a pending
    card's time is over."""
    if not card:
        return None
    shown = {k: v for k, v in card.items() if k != "tool"}
    if shown.get("state") == PENDING and _expired(str(shown.get("expires_at") or "")):
        shown["state"] = EXPIRED
    return shown


def _expired(expires_at: str) -> bool:
    try:
        return datetime.fromisoformat(expires_at) <= timezone.now()
    except ValueError:
        return True


def card_turns(card: dict[str, Any] | None) -> tuple[tuple[ToolCall, ...], tuple[ToolResult, ...]] | None:
    """The model's calls and their results when every call of the card's round has one
    (None before the visitor answered: the history then has the message's text alone)."""
    tool = (card or {}).get("tool")
    if not tool or tool.get("waiting") or not tool.get("calls"):
        return None
    results = {r["call_id"]: r for r in tool.get("results", [])}
    calls = tuple(ToolCall(c["id"], c["name"], c.get("arguments") or {}) for c in tool["calls"])
    if any(c.id not in results for c in calls):
        return None
    return calls, tuple(
        ToolResult(c.id, str(results[c.id]["content"]), bool(results[c.id]["is_error"])) for c in calls
    )
