"""When a retrieved passage is relevant enough to be given to the bot (docs/relevance.md).

A passage is relevant when either

* its vector match is close enough: the cosine similarity of the chunk's vector and the
  question's (1 - cosine distance) is at least the knowledge base's threshold
  (``KnowledgeBase.min_relevance``, or when blank the calibrated default of its embedding
  model, :data:`DEFAULT_MIN_RELEVANCE`); or
* it holds every word of a question of two words or more (the full-text search's strict
  pass: every lexeme after stemming and stop words): exact terms such as error codes, model
  names or "PayPal" are what embeddings blur, and a chunk holding all of them is about the
  question. A single shared word is not enough (it is what off-topic questions share).

Fused scores (reciprocal rank fusion) are ranks, not relevance: every question gets a best
passage, however unrelated. A model without a calibrated default and no threshold set keeps
every passage (nothing is filtered out rather than everything)."""

from __future__ import annotations

from .models import KnowledgeBase

# Calibrated on the shop FAQ of tests/knowledge/shop_faq.py (docs/relevance.md): questions
# the FAQ answers score 0.36-0.73 against their best chunk, off-topic ones 0.01-0.39.
LOCAL_DEFAULT = 0.40
# A starting point for OpenAI's text-embedding-3 models (unrelated text ~0.1-0.2, answers
# ~0.4-0.6); ada-002's similarities are compressed into ~0.7-0.9.
OPENAI_DEFAULTS = {
    "text-embedding-3-small": 0.30,
    "text-embedding-3-large": 0.30,
    "text-embedding-ada-002": 0.78,
}
OPENAI_DEFAULT_MODEL = "text-embedding-3-small"  # as knowledge.services names it


def default_min_relevance(provider: str, model: str = "") -> float | None:
    """The calibrated threshold of an embedding model (None: none known, nothing filtered)."""
    if provider == KnowledgeBase.EmbeddingProvider.LOCAL:
        return LOCAL_DEFAULT
    if provider == KnowledgeBase.EmbeddingProvider.OPENAI:
        return OPENAI_DEFAULTS.get(model or OPENAI_DEFAULT_MODEL)
    return None


def min_relevance(kb: KnowledgeBase) -> float | None:
    """The similarity a passage of ``kb`` needs: its own threshold, or its model's default."""
    if kb.min_relevance is not None:
        return float(kb.min_relevance)
    return default_min_relevance(kb.embedding_provider, kb.embedding_model)


def is_relevant(similarity: float | None, threshold: float | None, *, every_word: bool) -> bool:
    """The rule above for one passage: ``similarity`` of its vector match (None: not among
    the vector candidates), ``every_word``: it holds every word of a multi-word question."""
    if threshold is None or every_word:
        return True
    return similarity is not None and similarity >= threshold
