"""What the answer pipeline's stages hand each other: how an answer ended (``Outcome``,
``answer_outcome``) and what ``prepare`` leaves for ``stream`` and ``finish``
(``Prepared``). A leaf: it imports no other stage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..llm.base import LLMRequest, Provider, ProviderError
from ..llm.registry import ProviderChoice

if TYPE_CHECKING:
    from knowledge.retrieval import Passage


class Outcome:
    ANSWERED = "answered"
    NO_ANSWER = "no_answer"  # the knowledge base has nothing good: the no-answer text
    PARTIAL = "partial"  # the stream broke after some text: that text and the fallback
    INTERRUPTED = "interrupted"  # the visitor left mid-answer: what was produced
    FALLBACK = "fallback"  # the provider failed before any text
    OVER_QUOTA = "over_quota"
    AUTOMATION = "automation"
    SKIPPED = "skipped"  # a contact flagged as a bot: no AI answer is spent on it
    HANDOFF = "handoff"  # the visitor asked for a person in words: handed off, no AI answer
    ACTION = "action"  # without an LLM: an AI action's form, or its result once submitted

    OFFERS_HANDOFF = {NO_ANSWER, PARTIAL, FALLBACK, OVER_QUOTA}
    # Bot messages that are the model's answer, in full or in part.
    AI_ANSWERED = (ANSWERED, PARTIAL, INTERRUPTED)


@dataclass
class Prepared:
    schema: str
    tenant_id: int
    conversation_id: int
    visitor_message_id: int
    widget_id: int = 0  # the conversation's widget (the tools offered and run in it)
    claim_key: str = ""
    pending: bool = False  # another request is answering this message
    before: list[dict[str, Any]] = field(default_factory=list)  # messages stored before the answer
    final: dict[str, Any] | None = None  # the answer, when no provider call is needed
    request: LLMRequest | None = None
    choice: ProviderChoice | None = None
    passages: list[Passage] = field(default_factory=list)
    metric: str = ""  # the usage metric consumed, given back on failure
    texts: dict[str, Any] = field(default_factory=dict)  # no_answer / unavailable / offer_handoff
    # A process shutting down handed the answer to a worker before it was finished
    # (saas.shutdown, chat.answering.owed.answer_hand_over): nothing is stored here.
    handed_over: bool = False

    def provider_call(self) -> tuple[Provider, LLMRequest]:
        """The provider and the request to send it: prepared whenever neither ``final`` nor
        ``pending`` is set."""
        if self.choice is None or self.request is None:
            raise RuntimeError("No provider call was prepared for this answer.")
        return self.choice.provider, self.request


def answer_outcome(text: str, error: ProviderError | None, no_answer_text: str) -> str:
    """How a provider call ended, from what it produced."""
    text, no_answer = text.strip(), no_answer_text.strip()
    if error is not None:
        return Outcome.PARTIAL if text else Outcome.FALLBACK
    if not text or no_answer in text[-400:]:
        return Outcome.NO_ANSWER
    return Outcome.ANSWERED
