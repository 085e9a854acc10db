"""The attempts at an owed answer (chat.answering.owed): in the process that owes it (its
thread, handed this function by the package) and in a worker (the broker's copy, the task
``answer_owed``, listed in ``CELERY_IMPORTS``). Apart from ``owed`` because it needs the whole
pipeline, and the stream, part of it, records what is owed."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django_tenants.utils import schema_context

from saas.database_outage import is_database_unavailable
from saas.tenant_connection import connection
from tenants.models import Tenant

from ..models import Conversation, Message
from .finish import answer_finish
from .owed import DONE, DROPPED, GIVE_UP_S, RETRY, Owed, mark_owed
from .prepare import answer_prepare
from .stream import answer_collect

logger = logging.getLogger(__name__)


def answer_owed_settle(owed: Owed) -> str:
    """One attempt, in the owed message's schema: DONE (answered now or before), RETRY
    (the database is still unreachable, or another request is answering), DROPPED (nothing
    to answer any more)."""
    try:
        with schema_context(owed.schema):
            if Message.objects.filter(reply_to_id=owed.visitor_message_id).exists():
                return DONE
            if owed.finish is not None and owed.prepared is not None:
                answer_finish(owed.prepared, **owed.finish)
                return DONE
            tenant = Tenant.objects.filter(pk=owed.tenant_id).first()
            conversation = (
                Conversation.objects.select_related("widget").filter(pk=owed.conversation_id).first()
            )
            message = Message.objects.filter(pk=owed.visitor_message_id, role=Message.Role.VISITOR).first()
            if tenant is None or conversation is None or message is None:
                return DROPPED
            prepared = answer_prepare(tenant=tenant, conversation=conversation, visitor_message=message)
            if prepared.pending:  # another request holds the claim: look again later
                return RETRY
            if prepared.final is None:
                answer_collect(prepared)
            return DONE
    except Exception as exc:
        if is_database_unavailable(exc):
            return RETRY
        logger.exception(
            "answer owed failed conversation=%s message=%s", owed.conversation_id, owed.visitor_message_id
        )
        return DROPPED


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, soft_time_limit=90, time_limit=120)
def answer_owed(self: Any, tenant_id: int, conversation_id: int, visitor_message_id: int) -> str:
    """The broker's copy of an owed answer, run in the schema it was sent from (listed in
    ``CELERY_IMPORTS``): answered here if it still has none; while the database is
    unreachable, tried again every 30 s until the owed answer is given up."""
    owed = Owed(
        schema=connection.schema_name,
        tenant_id=tenant_id,
        conversation_id=conversation_id,
        visitor_message_id=visitor_message_id,
    )
    result = answer_owed_settle(owed)
    if result == RETRY and self.request.retries < int(GIVE_UP_S // 30):
        raise self.retry(countdown=30, max_retries=int(GIVE_UP_S // 30))
    mark_owed(owed, False)
    return result
