"""The end of an answer: the one bot message stored per visitor message (its client id is
derived from the visitor message, under the database's unique constraint), its citations,
usage and cost, and the credit given back when the provider produced nothing.
Preconditions: the tenant's schema is active."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache

from billing.services import usage_refund

from ..llm.base import ProviderError, Usage
from ..llm.pricing import answer_cost
from ..models import Conversation, Message
from ..selectors import message_payload
from ..services import ClientMessageIdReused, message_append
from .outcome import Outcome, Prepared, answer_outcome
from .prompt import cited_passages


def reply_store(prepared: Prepared, *, text: str, outcome: str, **extra: Any) -> Message:
    """Store the answer to the prepared visitor message (or return the one stored first)."""
    try:
        reply, _ = message_append(
            conversation=Conversation(pk=prepared.conversation_id),
            role=Message.Role.BOT,
            text=text,
            client_message_id=f"reply:{prepared.visitor_message_id}",
            reply_to_id=prepared.visitor_message_id,
            outcome=outcome,
            **extra,
        )
    except ClientMessageIdReused:  # another request stored the answer first: keep that one
        reply = Message.objects.get(reply_to_id=prepared.visitor_message_id)
    return reply


def final_payload(reply: Message, *, offer_handoff: bool) -> dict[str, Any]:
    """The ``done`` event: the answer as visitors see it, and whether a person is offered.
    A handoff in words (outcome ``handoff``) adds ``status: "waiting"``: the conversation now
    waits for a person (``handoff`` stays false: nobody needs offering)."""
    payload = {"message": message_payload(reply), "handoff": offer_handoff, "outcome": reply.outcome}
    if reply.outcome == Outcome.HANDOFF:
        payload["status"] = Conversation.Status.WAITING
    return payload


def handoff_reply_record(note: Message, *, visitor_message_id: int) -> Message:
    """The handoff note (``conversation_handoff``'s system message) recorded as the answer
    to the visitor message that asked for a person: outcome ``handoff``, and a retried
    send finds it as the answer."""
    Message.objects.filter(pk=note.pk, reply_to__isnull=True).update(
        reply_to_id=visitor_message_id, outcome=Outcome.HANDOFF
    )
    note.reply_to_id, note.outcome = visitor_message_id, Outcome.HANDOFF
    return note


def answer_finish(
    prepared: Prepared,
    *,
    text: str,
    usage: Usage,
    error: ProviderError | None,
    interrupted: bool,
    ttft_ms: int | None,
    card: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Store the one answer (with ``card``, an AI action waiting for the visitor, under
    it). Returns its final payload (None: nothing to store)."""
    try:
        texts = prepared.texts
        text = text.strip()
        if interrupted and not text:
            return None  # the provider was called: the credit stays spent
        outcome = Outcome.INTERRUPTED if interrupted else answer_outcome(text, error, texts["no_answer"])
        if outcome == Outcome.FALLBACK:
            text = texts["unavailable"]
            _refund(prepared)
        elif outcome == Outcome.PARTIAL:
            text = f"{text}\n\n{texts['unavailable']}"
        elif outcome == Outcome.NO_ANSWER:
            text = text or texts["no_answer"]
        provider = prepared.choice.provider if prepared.choice else None
        reply = reply_store(
            prepared,
            text=text,
            outcome=outcome,
            citations=cited_passages(text, prepared.passages) if outcome != Outcome.FALLBACK else [],
            tokens_in=usage.input_tokens or None,
            tokens_out=usage.output_tokens or None,
            latency_ms=ttft_ms,
            provider=provider.name if provider else "",
            model=(prepared.request.model if prepared.request else "")[:100],
            cost_usd=answer_cost(prepared.request.model, usage.input_tokens, usage.output_tokens)
            if prepared.request and provider
            else None,
            card=card if outcome != Outcome.FALLBACK else None,
        )
        offer = bool(texts.get("offer_handoff")) and outcome in Outcome.OFFERS_HANDOFF
        return final_payload(reply, offer_handoff=offer)
    finally:
        if prepared.claim_key:
            cache.delete(prepared.claim_key)


def _refund(prepared: Prepared) -> None:
    if prepared.metric:
        usage_refund(tenant_id=prepared.tenant_id, metric=prepared.metric)
        prepared.metric = ""
