"""Background assist: summaries on handoff and assignment, translations of visitors'
messages. Tasks take ids, re-fetch, call a service; they run in the schema they were sent
from (saas.celery) and never raise for a provider's failure (it is recorded instead)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.core.cache import cache

from chat.models import Conversation, Message
from saas.celery import enqueue_on_commit
from saas.errors import ProblemError
from saas.tenant_connection import connection
from tenants.models import Tenant

from .selectors import member_language
from .services import conversation_summarise, message_translate

logger = logging.getLogger(__name__)


def _tenant() -> Tenant:
    return Tenant.objects.get(schema_name=connection.schema_name)


@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=60, time_limit=90)
def conversation_summary_make(conversation_id: int, reason: str) -> bool:
    """The conversation's summary, in its assignee's language; nothing is called when the
    stored one covers the last message already (a handoff and the assignment it leads to)."""
    conversation = Conversation.objects.select_related("widget").filter(pk=conversation_id).first()
    if conversation is None or not conversation.messages.filter(role=Message.Role.VISITOR).exists():
        return False  # nothing to summarise yet
    language = member_language(conversation.assignee_user_id) if conversation.assignee_user_id else "en"
    try:
        conversation_summarise(
            tenant=_tenant(), conversation=conversation, reason=reason, language=language, force=False
        )
    except ProblemError as error:
        logger.warning("summary not made conversation=%s: %s", conversation_id, error.code)
        return False
    return True


TRANSLATION_CLAIM_SECONDS = 60  # one call per message and language at a time, retried after


def translations_queue(message_ids: list[int], language: str) -> list[int]:
    """Queue the translation of these visitor messages into ``language``, except those
    queued in the last minute (a page polling, two agents opening the conversation: one
    provider call each). Returns the ids queued now."""
    queued = []
    for message_id in message_ids:
        # The default cache is the tenant's (its keys carry the schema).
        if cache.add(f"assist:translate:{message_id}:{language}", 1, timeout=TRANSLATION_CLAIM_SECONDS):
            enqueue_on_commit(message_translation_make, message_id, language)
            queued.append(message_id)
    return queued


@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=60, time_limit=90)
def message_translation_make(message_id: int, language: str) -> str:
    """A visitor's message in an agent's language (the state stored: done, same, failed)."""
    message = (
        Message.objects.select_related("conversation__widget", "conversation__contact")
        .filter(pk=message_id, role=Message.Role.VISITOR)
        .first()
    )
    if message is None:
        return ""
    try:
        return message_translate(tenant=_tenant(), message=message, language=language).state
    except ProblemError as error:  # translation was turned off meanwhile
        logger.info("translation skipped message=%s: %s", message_id, error.code)
        return ""
