"""The workspace's actions as the tools the bot may call while it answers
(``tenants.contributions.AnswerTools``, read by ``chat.answering``). Every call goes
through :func:`actions.services.action_call` with the conversation's visitor, and is noted in
the transcript for agents (a private note).

Offered: every enabled action, except those that need the visitor's confirmation (the
widget's confirmation step comes with the next part of docs/actions.md). A verified-only
action is offered to everyone, its description saying so: a visitor who is not signed in
is told to sign in (the call is refused by the rules, never by the model's judgement)."""

from __future__ import annotations

import json
from typing import Any

from django.core.cache import cache
from django.db.models import Q

from chat.llm.base import Tool
from chat.models import Conversation, Message
from chat.services.messages import message_append

from . import mcp_tools, services
from .models import Action, ActionCall
from .services import offered_key

OFFERED_SECONDS = 3600

VERIFIED_NOTE = " (Only for visitors signed in on the website; the platform checks it.)"


class ActionTools:
    def offered(self, *, conversation_id: int) -> list[Tool]:
        """Read on every answer: the actions offered on the conversation's widget, kept in
        the workspace's cache per widget, forgotten when an action or a widget changes
        (``actions.services``)."""
        widget_id = (
            Conversation.objects.filter(pk=conversation_id).values_list("widget_id", flat=True).first()
        )
        key = offered_key(widget_id or 0)
        offered = cache.get(key)
        if offered is None:
            actions = (
                _on_widget(widget_id).filter(is_enabled=True, requires_confirmation=False).order_by("name")
            )
            offered = [
                (
                    action.name,
                    action.description
                    + (VERIFIED_NOTE if action.audience == Action.Audience.VERIFIED else ""),
                    action.parameters,
                )
                for action in actions
            ]
            cache.set(key, offered, timeout=OFFERED_SECONDS)
        return [
            Tool(name=name, description=description, parameters=parameters)
            for name, description, parameters in offered
        ] + mcp_tools.offered({name for name, _, _ in offered})

    def call(
        self, *, conversation_id: int, name: str, arguments: dict[str, Any], arguments_error: str
    ) -> tuple[str, bool]:
        conversation = Conversation.objects.select_related("contact").get(pk=conversation_id)
        offered = _on_widget(conversation.widget_id)
        action = offered.filter(name=name, is_enabled=True, requires_confirmation=False).first()
        if action is None:  # an MCP server's tool, or nothing
            return mcp_tools.call(
                conversation_id=conversation_id,
                name=name,
                arguments=arguments,
                arguments_error=arguments_error,
            )
        outcome = services.action_call(
            action=action,
            arguments=arguments,
            arguments_error=arguments_error,
            contact=conversation.contact,
            conversation=conversation,
            source=ActionCall.Source.ANSWER,
        )
        if outcome.call is not None:
            _transcript_note(conversation, action, outcome.call)
        return outcome.result, not outcome.ok


def _on_widget(widget_id: int | None) -> Any:
    """The actions offered on the widget: those limited to no widget, or to it among others."""
    return Action.objects.filter(Q(widgets=None) | Q(widgets=widget_id)).distinct()


def _transcript_note(conversation: Conversation, action: Action, call: ActionCall) -> None:
    """Agents see the call in the transcript, where it happened: a private note (never
    shown to the visitor) with its inputs, outcome, HTTP status and latency."""
    facts = [call.get_status_display()]
    if call.http_status is not None:
        facts.append(f"HTTP {call.http_status}")
    if call.duration_ms is not None:
        facts.append(f"{call.duration_ms} ms")
    inputs = json.dumps(call.arguments, ensure_ascii=False)
    lines = [
        f"AI action {action.title} ({action.name}): {', '.join(facts)}.",
        f"Inputs: {inputs if len(inputs) <= 500 else inputs[:499] + '…'}",
    ]
    if call.error:
        lines.append(f"Error: {call.error}")
    message_append(
        conversation=conversation, role=Message.Role.NOTE, text="\n".join(lines), author_name="AI action"
    )
