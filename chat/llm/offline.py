"""The offline provider: no network, no model. It answers by quoting the most relevant
sentences of the retrieved passages, with their citation numbers, and says that it is
quoting; with nothing retrieved it gives the bot's no-answer text. A plain question over a
visitor's table comes with its answer already computed (``LLMRequest.computed_answer``),
which it gives. It never invents."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from .base import LLMRequest, Usage

WORD = re.compile(r"\w+", re.UNICODE)
SENTENCE = re.compile(r"(?<=[.!?])\s+")
STOP = frozenset(
    """a an and are as at be by can do does for from how i in is it me my of on or our the to we
    what when where which who why will with you your""".split()  # noqa: SIM905
)


INTROS = {
    frozenset({"knowledge"}): "Here is what our knowledge base says:",
    frozenset({"file"}): "Here is what your file says:",
    frozenset({"file", "knowledge"}): "Here is what your file and our knowledge base say:",
}


def _terms(text: str) -> set[str]:
    return {w for w in WORD.findall(text.lower()) if w not in STOP and len(w) > 1}


def offline_answer(request: LLMRequest) -> str:
    if request.computed_answer:  # a plain question over the visitor's table, computed
        return request.computed_answer
    if not request.passages:
        return request.no_answer_text
    terms = _terms(request.question)
    quotes, sources = [], set()
    for number, passage in enumerate(request.passages[:3], start=1):
        sentences = [s.strip() for s in SENTENCE.split(passage.text) if s.strip()]
        scored = sorted(sentences, key=lambda s: len(terms & _terms(s)), reverse=True)
        best = [s for s in scored[:2] if terms & _terms(s)] or sentences[:1]
        if best:
            quotes.append(f"> {' '.join(best)[:600]} [{number}]")
            # A visitor's own file (chat.file_context.FilePassage) is not the knowledge base.
            sources.add("file" if getattr(passage, "visitor_file", False) else "knowledge")
    if not quotes:
        return request.no_answer_text
    return INTROS[frozenset(sources)] + "\n\n" + "\n\n".join(quotes)


class OfflineProvider:
    name = "offline"
    model = "knowledge-base-quotes"
    breaker_key = "offline"

    async def stream(self, request: LLMRequest, usage: Usage) -> AsyncIterator[str]:
        answer = offline_answer(request)
        usage.input_tokens = sum(len(p.text) for p in request.passages) // 4
        for piece in re.findall(r"\S+\s*|\s+", answer):
            yield piece
        usage.output_tokens = len(answer) // 4 + 1
        usage.finished = True
