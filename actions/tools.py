"""The workspace's actions as the tools the bot may call while it answers
(``tenants.contributions.AnswerTools``, read by ``chat.answering``). Every call goes
through :func:`actions.services.action_call` with the conversation's visitor, and is noted in
the transcript for agents (a private note).

Offered: every enabled action. One that needs the visitor's confirmation is not called
when the model asks: the answer ends with a card in the widget (``services.confirmations``)
and the call runs when the visitor confirms. A verified-only action is offered to everyone,
its description saying so: a visitor who is not signed in is told to sign in (the call is
refused by the rules, never by the model's judgement). Without an LLM, an action's trigger
phrases open its form instead (``offline_form``)."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db.models import Q

from chat.llm.base import Tool
from chat.models import Conversation
from tenants.contributions import ToolCard

from . import mcp_tools, services
from .models import Action, ActionCall
from .services import offered_key

OFFERED_SECONDS = 3600

VERIFIED_NOTE = " (Only for visitors signed in on the website; the platform checks it.)"
CONFIRM_NOTE = " (The visitor confirms in the chat before it runs: call it, then wait for their answer.)"


class ActionTools:
    def offered(self, *, conversation_id: int, widget_id: int) -> list[Tool]:
        """Read on every answer: the actions offered on the conversation's widget, kept in
        the workspace's cache per widget, forgotten when an action or a widget changes
        (``actions.services``)."""
        key = offered_key(widget_id)
        offered = cache.get(key)
        if offered is None:
            actions = _on_widget(widget_id).filter(is_enabled=True).order_by("name")
            offered = [
                (
                    action.name,
                    action.description
                    + (VERIFIED_NOTE if action.audience == Action.Audience.VERIFIED else "")
                    + (CONFIRM_NOTE if action.requires_confirmation else ""),
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
        self,
        *,
        conversation_id: int,
        name: str,
        arguments: dict[str, Any],
        arguments_error: str,
        widget_id: int | None = None,  # the conversation's own is read with it
    ) -> tuple[str, bool] | ToolCard:
        conversation = Conversation.objects.select_related("contact").get(pk=conversation_id)
        offered = _on_widget(conversation.widget_id)
        action = offered.filter(name=name, is_enabled=True).first()
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
        if outcome.needs_confirmation:
            return services.confirmation_ask(action=action, arguments=arguments, conversation=conversation)
        if outcome.call is not None:
            services.call_note(conversation, action, outcome.call)
        return outcome.result, not outcome.ok

    def offline_form(self, *, conversation_id: int, text: str) -> ToolCard | None:
        return services.form_offer(conversation_id=conversation_id, text=text)


def _on_widget(widget_id: int | None) -> Any:
    """The actions offered on the widget: those limited to no widget, or to it among others."""
    return Action.objects.filter(Q(widgets=None) | Q(widgets=widget_id)).distinct()
