"""The answer pipeline: from a stored visitor message to a stored bot answer.

    prepare (sync, tenant schema)      handoff in words -> automations -> retrieval (relevance)
                                       -> quota -> history -> prompt
    stream  (async)                    provider deltas through chat.llm.resilience
    finish  (sync, tenant schema)      one stored answer: text, citations, usage, cost, latency

One module per stage: ``outcome`` (the types the stages hand each other; a leaf),
``claims``, ``prompt``, ``prepare``, ``stream``, ``finish``, and beside the pipeline
``preview`` (the dashboard's playground) and ``greeting``. Views stream
:func:`answer_events`; the playground and tests call :func:`answer_collect`.

Guarantees: at most one answer per visitor message (the reply's client message id is derived
from the visitor message, under the database's unique constraint, and a cache claim keeps a
second request from calling the provider at all); the visitor's message is never lost (it
is stored before this runs); a failure before any text gives the bot's fallback text and a
handoff offer, and gives the AI-answer credit back.
"""

from .claims import answer_in_progress, claim_key
from .finish import answer_finish, final_payload, reply_store
from .greeting import conversation_greet
from .outcome import Outcome, Prepared, answer_outcome
from .owed import answer_owe, answers_owed_pending, settle_with
from .owed_settle import answer_owed_settle
from .prepare import answer_prepare, provider_and_credit, provider_uncounted
from .preview import answer_preview
from .prompt import (
    CITATION,
    PASSAGES,
    cited_passages,
    estimate_tokens,
    history_turns,
    llm_request,
    system_prompt,
)
from .stream import (
    answer_collect,
    answer_events,
    answer_stream_bytes,
    capped_stream,
    connection_release,
    run_from_sync,
)

_claim_key = claim_key  # the name the browser tests import
settle_with(answer_owed_settle)  # what the owed answers' thread runs (chat.answering.owed)

__all__ = [
    "CITATION",
    "PASSAGES",
    "Outcome",
    "Prepared",
    "answer_collect",
    "answer_events",
    "answer_finish",
    "answer_in_progress",
    "answer_outcome",
    "answer_owe",
    "answer_prepare",
    "answer_preview",
    "answer_stream_bytes",
    "answers_owed_pending",
    "capped_stream",
    "cited_passages",
    "claim_key",
    "connection_release",
    "conversation_greet",
    "estimate_tokens",
    "final_payload",
    "history_turns",
    "llm_request",
    "provider_and_credit",
    "provider_uncounted",
    "reply_store",
    "run_from_sync",
    "system_prompt",
]
