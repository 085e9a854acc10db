"""chat.templatetags.chat_words: every answer outcome reads as a sentence in the dashboard."""

from __future__ import annotations

from chat.answering.outcome import Outcome
from chat.templatetags.chat_words import OUTCOME_WORDS, outcome_words


def test_every_outcome_has_words():
    outcomes = {value for name, value in vars(Outcome).items() if name.isupper() and isinstance(value, str)}
    assert outcomes == set(OUTCOME_WORDS)
    assert outcome_words(Outcome.SKIPPED).startswith("no AI answer: the visitor was flagged")
    assert outcome_words("something-new") == "something-new"
