"""The cache claim per visitor message: whoever adds it answers; a second request for the
same message gets ``pending`` and never calls the provider. And the mark of an answer owed
(chat.answering.owed), so the widget keeps waiting for it. A leaf."""

from __future__ import annotations

from django.core.cache import cache


def claim_key(visitor_message_id: int) -> str:
    return f"chat:answering:{visitor_message_id}"


def owed_key(visitor_message_id: int) -> str:
    """Set while an answer the database's outage interrupted is owed (chat.answering.owed)."""
    return f"chat:answer-owed:{visitor_message_id}"


def answer_in_progress(visitor_message_id: int) -> bool:
    """Whether an answer to this visitor message is being produced now, or is owed and
    will be once the database is back (in any process)."""
    return bool(cache.get_many([claim_key(visitor_message_id), owed_key(visitor_message_id)]))
