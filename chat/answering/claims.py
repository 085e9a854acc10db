"""The cache claim per visitor message: whoever adds it answers; a second request for the
same message gets ``pending`` and never calls the provider. A leaf."""

from __future__ import annotations

from django.core.cache import cache


def claim_key(visitor_message_id: int) -> str:
    return f"chat:answering:{visitor_message_id}"


def answer_in_progress(visitor_message_id: int) -> bool:
    """Whether an answer to this visitor message is being produced now (in any process)."""
    return cache.get(claim_key(visitor_message_id)) is not None
