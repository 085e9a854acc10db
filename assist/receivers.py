"""Chat's events that start assist's background work (``chat.models.chat_event``, sent
after the change committed, in the schema it was made in): a handoff and an assignment
queue the conversation's summary. Connected in ``AssistConfig.ready``; a failure here is
logged and never reaches the visitor's or agent's action."""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache import cache
from django_tenants.utils import schema_context

from chat.models import chat_event
from saas.celery import enqueue_on_commit

from . import tasks

logger = logging.getLogger(__name__)

SUMMARISED = {"conversation.handoff_requested": "handoff", "conversation.assigned": "assigned"}
# A handoff and the automatic assignment it leads to come together: one summary for both.
CLAIM_SECONDS = 30


def chat_changed(sender: Any, *, event_type: str, schema: str, **ids: Any) -> None:
    reason = SUMMARISED.get(event_type)
    conversation_id = ids.get("conversation_id")
    if reason is None or conversation_id is None:
        return
    try:
        with schema_context(schema):
            # The default cache is the tenant's (its keys carry the schema).
            if cache.add(f"assist:summary:{conversation_id}", 1, timeout=CLAIM_SECONDS):
                enqueue_on_commit(tasks.conversation_summary_make, int(conversation_id), reason)
    except Exception:
        logger.exception("assist: the summary of %s could not be queued in %s", conversation_id, schema)


def connect() -> None:
    chat_event.connect(chat_changed, dispatch_uid="assist-chat-event")
