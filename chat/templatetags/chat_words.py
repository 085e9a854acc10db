"""Words for people in the conversation pages."""

from __future__ import annotations

from django import template

from chat.answering.outcome import Outcome

register = template.Library()

OUTCOME_WORDS = {
    Outcome.ANSWERED: "answered from the knowledge",
    Outcome.NO_ANSWER: "no good answer in the knowledge: the no-answer text was sent",
    Outcome.PARTIAL: "the answer broke off: what was written and the fallback text were sent",
    Outcome.INTERRUPTED: "the visitor left before the answer was complete",
    Outcome.FALLBACK: "the AI provider failed: the fallback text was sent",
    Outcome.OVER_QUOTA: "the plan's AI answers are used up: the fallback text was sent",
    Outcome.AUTOMATION: "answered by an automation rule",
    Outcome.SKIPPED: "no AI answer: the visitor was flagged as automated (a bot)",
    Outcome.HANDOFF: "the visitor asked for a person: handed off to the team, no AI answer",
    Outcome.ACTION: "an AI action's form (no LLM is set up), or its result once the visitor sent it",
}


@register.filter
def outcome_words(outcome: str) -> str:
    """What an answer's outcome means, in a sentence (the code itself when unknown)."""
    return OUTCOME_WORDS.get(outcome, outcome)
