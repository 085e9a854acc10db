"""Calls that wait for the visitor (:class:`actions.models.PendingCall`): the confirmation
card of an action, or of an MCP server's tool, that ``requires_confirmation`` (the model
asked; the exact inputs shown are the ones that run), and the form of the offline keyword
rule (no LLM: the visitor gives the inputs; actions only). Each is answered once: a
conditional UPDATE claims it (a double click, a second tab, a replay: one call at most),
then the call runs through :func:`action_call` (:func:`mcp_tool_call` for a tool) with every
rule checked again at that moment (enabled, allow-list, audience, inputs, rate limit,
quota), or is logged as declined. Agents see the card and its outcome in the transcript (private notes)."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import capfirst

from chat.answering.outcome import Outcome as AnswerOutcome
from chat.models import Contact, Conversation, Message
from chat.services.messages import ConversationClosed, message_append, message_card_settle
from saas.errors import Conflict, NotFound, ProblemError, ValidationFailed
from tenants.contributions import ToolCard

from .. import mapping
from ..models import Action, ActionCall, McpServer, PendingCall
from .calls import MAX_INPUT_CHARS, Outcome, action_call, action_declined, confirmation_summary
from .definitions import TRIGGERS_KEY, schema_validator
from .mcp import mcp_tool_call, mcp_tool_declined, tool_summary, tool_title

CONFIRM_SECONDS = 600  # a confirmation card is good for ten minutes
FORM_SECONDS = 1800  # a form, for half an hour (there is more to type)
TRIGGERS_SECONDS = 3600
ASK_TEXT = "Please check the details below and confirm."
FORM_TEXT = "Please fill in the details below."
SIMPLE_TYPES = ("string", "number", "integer", "boolean")


class ConfirmationExpired(ProblemError):
    status = 410
    code = "confirmation_expired"
    title = "This request has expired"


class ConfirmationAnswered(Conflict):
    code = "confirmation_answered"
    title = "This request was already answered"


# What the visitor is told after a form (no LLM words it): by the call's status.
SAID: dict[str, str] = {
    ActionCall.Status.DENIED: "This can only be done for visitors signed in on the website. "
    "Please sign in and try again.",
    ActionCall.Status.INVALID: "That could not be done: the details were not valid ({error}).",
    ActionCall.Status.RATE_LIMITED: "This was asked too often just now. Please try again in a minute.",
    ActionCall.Status.UNREADABLE: "The request was sent, but its result could not be read. "
    "Please check before trying again.",
    ActionCall.Status.DECLINED: "OK, nothing was done.",
}
SAID_FAILED = "Sorry, this could not be done right now. Please try again later."


@dataclass(frozen=True)
class Decided:
    """A pending call answered: what ran (or was declined), and the visitor's answer as
    their message in the conversation (the next answer's question)."""

    pending: PendingCall
    outcome: Outcome
    visitor_message: Message
    reply: Message | None = None  # a form's: the bot's answer, the result in plain words


# --- asking -------------------------------------------------------------------------------


def _note(conversation: Conversation, text: str) -> None:
    message_append(conversation=conversation, role=Message.Role.NOTE, text=text, author_name="AI action")


def _inputs_line(arguments: dict[str, Any]) -> str:
    inputs = json.dumps(arguments, ensure_ascii=False)
    return f"Inputs: {inputs if len(inputs) <= 500 else inputs[:499] + '…'}"


def confirmation_ask(*, action: Action, arguments: dict[str, Any], conversation: Conversation) -> ToolCard:
    """The model asked for ``action`` with ``arguments``, which passed every rule: nothing
    is sent; the visitor gets a card with the inputs in plain words (these inputs are what
    runs on Confirm)."""
    expires_at = timezone.now() + timedelta(seconds=CONFIRM_SECONDS)
    with transaction.atomic():
        pending = PendingCall.objects.create(
            action=action,
            conversation=conversation,
            kind=PendingCall.Kind.CONFIRM,
            arguments=arguments,
            expires_at=expires_at,
        )
        _note(
            conversation,
            f"AI action {action.title} ({action.name}): waiting for the visitor's confirmation.\n"
            + _inputs_line(arguments),
        )
    summary = [{"label": label, "value": value} for label, value in confirmation_summary(action, arguments)]
    return ToolCard(ASK_TEXT, {**_card_base(pending, action.title), "summary": summary})


def mcp_confirmation_ask(
    *, server: McpServer, tool: str, arguments: dict[str, Any], conversation: Conversation
) -> ToolCard:
    """As :func:`confirmation_ask`, for an MCP server's tool: the card titled with the
    server's title and the tool's, the inputs named by the titles of the tool's schema."""
    expires_at = timezone.now() + timedelta(seconds=CONFIRM_SECONDS)
    title = tool_title(server, tool)
    with transaction.atomic():
        pending = PendingCall.objects.create(
            mcp_server=server,
            tool_name=tool,
            conversation=conversation,
            kind=PendingCall.Kind.CONFIRM,
            arguments=arguments,
            expires_at=expires_at,
        )
        _note(
            conversation,
            f"MCP tool {tool} of {server.title}: waiting for the visitor's confirmation.\n"
            + _inputs_line(arguments),
        )
    summary = [{"label": label, "value": value} for label, value in tool_summary(server, tool, arguments)]
    return ToolCard(ASK_TEXT, {**_card_base(pending, title), "summary": summary})


def _card_base(pending: PendingCall, title: str) -> dict[str, Any]:
    return {
        "kind": pending.kind,
        "id": str(pending.public_id),
        "title": title,
        "state": PendingCall.State.PENDING,
        "expires_at": pending.expires_at.isoformat(),
    }


def form_fields(parameters: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The form of an action's inputs, from its JSON Schema: a field per property (string,
    number, integer, boolean; an enum is a choice), its title as the label and its
    description as the hint, the required ones first (in the schema's ``required``
    order). None when a required input cannot be asked in a form (an object, a list)."""
    order = [str(n) for n in parameters.get("required") or []]
    required = set(order)
    fields = []
    for name, spec in (parameters.get("properties") or {}).items():
        spec = spec if isinstance(spec, dict) else {}
        kind = spec.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), None)
        if isinstance(spec.get("enum"), list) and spec["enum"]:
            kind = "enum"
        elif kind not in SIMPLE_TYPES:
            if name in required:
                return None
            continue
        fields.append(
            {
                "name": name,
                "label": str(spec.get("title") or capfirst(name.replace("_", " ")))[:120],
                "hint": str(spec.get("description") or "")[:300],
                "type": kind,
                "required": name in required,
                "options": list(spec["enum"])[:50] if kind == "enum" else [],
            }
        )
    # The required first, in the order the schema lists them (an object's keys come back
    # from PostgreSQL in an order of its own); then the others.
    return sorted(fields, key=lambda f: order.index(f["name"]) if f["required"] else len(order))


def _triggers() -> list[tuple[int, list[str]]]:
    """(action id, trigger phrases) of the enabled actions that have some: kept in the
    workspace's cache, forgotten when an action changes (``definitions``)."""
    triggers: list[tuple[int, list[str]]] | None = cache.get(TRIGGERS_KEY)
    if triggers is None:
        rows = Action.objects.filter(is_enabled=True).exclude(trigger_phrases=[]).order_by("name")
        triggers = [(a.pk, list(a.trigger_phrases)) for a in rows.only("pk", "trigger_phrases")]
        cache.set(TRIGGERS_KEY, triggers, timeout=TRIGGERS_SECONDS)
    return triggers


def phrase_matches(phrase: str, text: str) -> bool:
    """The phrase in the text as whole words, in any case."""
    words = r"\s+".join(re.escape(w) for w in phrase.lower().split())
    return bool(words) and re.search(rf"(?<!\w){words}(?!\w)", text.lower()) is not None


def form_offer(*, conversation_id: int, text: str) -> ToolCard | None:
    """The offline keyword rule: the form of the first action (by name) one of whose
    trigger phrases ``text`` contains, or None (no query then: the phrases are cached)."""
    text = text[:4000]
    for action_id, phrases in _triggers():
        if any(phrase_matches(p, text) for p in phrases):
            conversation = Conversation.objects.get(pk=conversation_id)
            # Offered on the conversation's widget: limited to no widget, or to it.
            on_widget = Q(widgets=None) | Q(widgets=conversation.widget_id)
            action = Action.objects.filter(on_widget, pk=action_id, is_enabled=True).distinct().first()
            fields = form_fields(action.parameters) if action is not None else None
            if action is None or fields is None:
                continue
            with transaction.atomic():
                pending = PendingCall.objects.create(
                    action=action,
                    conversation=conversation,
                    kind=PendingCall.Kind.FORM,
                    expires_at=timezone.now() + timedelta(seconds=FORM_SECONDS),
                )
                _note(conversation, f"AI action {action.title} ({action.name}): its form was shown.")
            return ToolCard(FORM_TEXT, {**_card_base(pending, action.title), "fields": fields})
    return None


# --- answering ----------------------------------------------------------------------------


def _form_errors(action: Action, arguments: Any) -> dict[str, list[dict[str, str]]]:
    """Per field, why the form's inputs cannot be sent (empty when they can)."""
    if not isinstance(arguments, dict):
        return {"arguments": [{"code": "invalid", "message": "Send the inputs as an object."}]}
    if len(json.dumps(arguments, ensure_ascii=False)) > MAX_INPUT_CHARS:
        return {"arguments": [{"code": "too_long", "message": "The inputs are too long."}]}
    errors: dict[str, list[dict[str, str]]] = {}
    for error in schema_validator(action.parameters).iter_errors(arguments):
        if error.validator == "required":
            for name in set(action.parameters.get("required") or []) - set(arguments):
                errors.setdefault(name, [{"code": "required", "message": "This field is required."}])
            continue
        where = str(error.absolute_path[0]) if error.absolute_path else "arguments"
        errors.setdefault(where, [{"code": "invalid", "message": str(error.message)[:200]}])
    return errors


def _claimed(pending: PendingCall, state: str, arguments: dict[str, Any] | None) -> None:
    """Answer the pending call once: only the request whose UPDATE finds it pending and not
    expired goes on; any other is told why not."""
    now = timezone.now()
    changes: dict[str, Any] = {"state": state, "decided_at": now}
    if arguments is not None:
        changes["arguments"] = arguments
    won = PendingCall.objects.filter(
        pk=pending.pk, state=PendingCall.State.PENDING, expires_at__gt=now
    ).update(**changes)
    if not won:
        pending.refresh_from_db(fields=["state"])
        if pending.state != PendingCall.State.PENDING:
            raise ConfirmationAnswered("This was already answered.")
        raise ConfirmationExpired("This request has expired. Ask again if you still want it.")
    pending.state, pending.decided_at = state, now
    if arguments is not None:
        pending.arguments = arguments


def pending_call_decide(
    *, conversation: Conversation, pending_id: Any, decision: str, arguments: Any = None
) -> Decided:
    """The visitor's answer to a card of ``conversation`` (another conversation's: 404):
    ``confirm`` (a confirmation card), ``submit`` (a form, with ``arguments``; invalid
    inputs are 422 per field and the form stays open) or ``cancel`` (either). Expired: 410
    ``confirmation_expired``; answered already: 409 ``confirmation_answered``."""
    pending = (
        PendingCall.objects.select_related("action", "mcp_server")
        .filter(public_id=pending_id, conversation=conversation)
        .first()
    )
    if pending is None:
        raise NotFound("No such request in this conversation.")
    wanted = {"confirm": PendingCall.Kind.CONFIRM, "submit": PendingCall.Kind.FORM}.get(
        decision, pending.kind
    )
    if wanted != pending.kind:
        raise Conflict(f"This request is a {pending.get_kind_display().lower()}.")
    if conversation.status == Conversation.Status.CLOSED:
        raise ConversationClosed("Start a new conversation.")
    action = pending.action
    if decision == "submit" and action is not None:
        errors = _form_errors(action, arguments)
        if errors:
            raise ValidationFailed(errors=errors)
    declined = decision == "cancel"
    state = PendingCall.State.DECLINED if declined else PendingCall.State.CONFIRMED
    _claimed(pending, state, arguments if decision == "submit" else None)
    # The visitor as they are now (a verified identity may have changed since the card).
    contact = Contact.objects.filter(pk=conversation.contact_id).first() if conversation.contact_id else None
    server = pending.mcp_server
    if server is not None:  # an MCP server's tool (a confirmation: they have no form)
        if declined:
            outcome = mcp_tool_declined(
                server=server, tool=pending.tool_name, arguments=pending.arguments, contact=contact,
                conversation=conversation,
            )  # fmt: skip
        else:
            outcome = mcp_tool_call(
                server=server, tool=pending.tool_name, arguments=pending.arguments, contact=contact,
                conversation=conversation, confirmed=True,
            )  # fmt: skip
    elif action is None:  # neither: the table's check constraint rules it out
        raise NotFound("No such request in this conversation.")
    elif declined:
        outcome = action_declined(
            action=action, arguments=pending.arguments, contact=contact, conversation=conversation
        )
    else:
        outcome = action_call(
            action=action,
            arguments=pending.arguments,
            contact=contact,
            conversation=conversation,
            confirmed=True,
        )
    return _recorded(pending, outcome, conversation)


def _title(pending: PendingCall) -> str:
    """What the card and the visitor's answer call it: the action's title, or the MCP
    server's title and its tool's."""
    if pending.mcp_server is not None:
        return tool_title(pending.mcp_server, pending.tool_name)
    return pending.action.title if pending.action is not None else ""


def _recorded(pending: PendingCall, outcome: Outcome, conversation: Conversation) -> Decided:
    """The call on its pending row, the card settled, the agents' note, and the visitor's
    answer as their message."""
    action, server = pending.action, pending.mcp_server
    pending.call = outcome.call
    pending.save(update_fields=["call"])
    message_card_settle(
        conversation=conversation,
        card_id=str(pending.public_id),
        state=pending.state,
        result=outcome.result,
        is_error=not outcome.ok,
    )
    if outcome.call is not None and server is not None:
        mcp_call_note(conversation, server, outcome.call)
    elif outcome.call is not None and action is not None:
        call_note(conversation, action, outcome.call)
    title = _title(pending)
    if (
        action is not None
        and pending.kind == PendingCall.Kind.FORM
        and pending.state == PendingCall.State.CONFIRMED
    ):
        text = "\n".join(
            f"{label}: {value}" for label, value in confirmation_summary(action, pending.arguments)
        )
        text = text or f"Send: {action.title}"
    else:
        verb = "Cancelled" if pending.state == PendingCall.State.DECLINED else "Confirmed"
        text = f"{verb}: {title}"
    message, _ = message_append(
        conversation=conversation,
        role=Message.Role.VISITOR,
        text=text,
        client_message_id=f"card:{pending.public_id}",
    )
    decided = Decided(pending, outcome, message)
    if pending.kind != PendingCall.Kind.FORM:
        return decided  # the model answers (chat.answering, the view's stream)
    reply, _ = message_append(
        conversation=conversation,
        role=Message.Role.BOT,
        text=result_said(decided),
        client_message_id=f"reply:{message.pk}",
        reply_to_id=message.pk,
        outcome=AnswerOutcome.ACTION,
    )
    return dataclasses.replace(decided, reply=reply)


def result_said(decided: Decided) -> str:
    """What the bot says after a form (no LLM words it): the result in plain words."""
    outcome = decided.outcome
    if outcome.ok:
        words = mapping.result_words(outcome.result)
        return f"Done: {_title(decided.pending)}." + (f"\n\n{words}" if words else "")
    error = outcome.call.error if outcome.call is not None else ""
    return SAID.get(outcome.status, SAID_FAILED).format(error=error)


def call_note(conversation: Conversation, action: Action, call: ActionCall) -> None:
    """Agents see the call in the transcript, where it happened: a private note (never
    shown to the visitor) with its inputs, outcome, HTTP status and latency."""
    facts = [call.get_status_display()]
    if call.http_status is not None:
        facts.append(f"HTTP {call.http_status}")
    if call.duration_ms is not None:
        facts.append(f"{call.duration_ms} ms")
    lines = [f"AI action {action.title} ({action.name}): {', '.join(facts)}.", _inputs_line(call.arguments)]
    if call.error:
        lines.append(f"Error: {call.error}")
    _note(conversation, "\n".join(lines))


def mcp_call_note(conversation: Conversation, server: McpServer, call: ActionCall) -> None:
    """As :func:`call_note`, for a call of an MCP server's tool."""
    facts = [call.get_status_display()]
    if call.duration_ms is not None:
        facts.append(f"{call.duration_ms} ms")
    lines = [
        f"MCP tool {call.tool_name} of {server.title} ({call.action_name}): {', '.join(facts)}.",
        _inputs_line(call.arguments),
    ]
    if call.error:
        lines.append(f"Error: {call.error}")
    _note(conversation, "\n".join(lines))
