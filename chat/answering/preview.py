"""The dashboard's "test your bot": the same settings, retrieval, prompt and provider as a
visitor's answer, nothing stored. Preconditions: the tenant's schema is active."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from billing.services import usage_refund
from knowledge.retrieval import Passage
from tenants.models import Tenant
from widget_builder.models import Widget

from ..llm.base import ProviderError, Turn, Usage
from ..llm.pricing import answer_cost
from ..selectors import bot_snapshot
from .outcome import Outcome, answer_outcome
from .prepare import provider_and_credit, provider_uncounted
from .prompt import cited_passages, llm_request, nothing_relevant, relevant_passages
from .stream import capped_stream, run_from_sync


def answer_preview(*, tenant: Tenant, widget: Widget, question: str, counted: bool = True) -> dict[str, Any]:
    """The answer to ``question`` with the retrieved passages, their ranks and relevance
    (what a tenant needs to see why the bot answered as it did). The AI-answer credit is
    counted as for a visitor, and given back when the provider produced nothing; nothing
    relevant for a knowledge-only bot is the no-answer text, as for a visitor, without a
    provider call. ``counted=False`` (bot tests, quality.runs) takes no credit: the same
    provider, never refused for the quota."""
    snapshot = bot_snapshot(widget)
    bot = snapshot.bot
    result = {
        "text": "",
        "outcome": "",
        "citations": [],
        "passages": [],
        "error": "",
        "provider": "",
        "model": "",
    }
    passages, found = relevant_passages(question, snapshot.knowledge_base_ids or None)
    if nothing_relevant(bot, passages, found):
        return {**result, "outcome": Outcome.NO_ANSWER, "text": bot.no_answer_text, "passages": _shown(found)}
    try:
        if counted:
            choice, metric = provider_and_credit(tenant, bot)
        else:
            choice, metric = provider_uncounted(tenant, bot), ""
    except ProviderError as error:
        return {**result, "outcome": Outcome.FALLBACK, "text": bot.unavailable_text, "error": str(error)}
    if metric is None:
        return {**result, "outcome": Outcome.OVER_QUOTA, "text": bot.unavailable_text, "error": "quota"}
    request = llm_request(
        bot, widget, choice, turns=[Turn("user", question)], question=question, passages=passages, locale=""
    )
    usage = Usage()

    async def run() -> tuple[str, ProviderError | None, int | None]:
        parts, started, ttft = [], time.monotonic(), None
        try:
            async with contextlib.aclosing(capped_stream(choice.provider, request, usage)) as deltas:
                async for delta in deltas:
                    ttft = ttft if ttft is not None else int((time.monotonic() - started) * 1000)
                    parts.append(delta)
        except ProviderError as exc:
            return "".join(parts), exc, ttft
        return "".join(parts), None, ttft

    text, failure, ttft = run_from_sync(run)
    if failure is not None and not text and metric:
        usage_refund(tenant_id=tenant.pk, metric=metric)
    outcome = answer_outcome(text, failure, bot.no_answer_text)
    return {
        **result,
        "text": text or bot.unavailable_text,
        "outcome": outcome,
        # Only what the tenant can act on: no timeout/connection detail about the servers
        # their settings point at (that would map networks for them).
        "error": ("failed" if failure.kind not in ("spend_limit", "auth", "rate_limited") else failure.kind)
        if failure
        else "",
        "provider": choice.provider.name,
        "model": request.model,
        "latency_ms": ttft,
        "tokens_in": usage.input_tokens,
        "tokens_out": usage.output_tokens,
        "cost_usd": answer_cost(request.model, usage.input_tokens, usage.output_tokens),
        "citations": cited_passages(text, passages),
        "passages": _shown(passages),
    }


def _shown(passages: list[Passage]) -> list[dict[str, Any]]:
    return [
        {
            "rank": p.rank or i,
            "ranks": p.ranks,
            "title": p.title,
            "url": p.url,
            "file": p.file,
            "page": p.page,
            "text": p.text,
            "similarity": p.similarity,
            "relevant": p.relevant,
        }
        for i, p in enumerate(passages, start=1)
    ]
