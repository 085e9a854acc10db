"""The attempts at an owed answer (chat.answering.owed): in the process that owes it (its
thread, handed this function by the package) and in a worker (the broker's copy, the task
``answer_owed``, listed in ``CELERY_IMPORTS``). Apart from ``owed`` because it needs the whole
pipeline, and the stream, part of it, records what is owed.

Also the sweep for answers nobody owes any more: a web process that died (a deploy, the
OOM killer, a lost node) takes its in-memory debts and the answers it was writing with it.
Every minute, ``unanswered_sweep`` finds each conversation's last visitor message that the
bot still has, with no answer after ``CHAT_UNANSWERED_AFTER_SECONDS`` and nothing answering
it, and hands it to ``answer_owed``."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db.models import F
from django.utils import timezone
from django_tenants.utils import schema_context

from saas.celery import enqueue_on_commit
from saas.database_outage import is_database_unavailable
from saas.tenant_connection import connection
from tenants.models import Tenant
from tenants.tasks import each_active_workspace

from ..models import Conversation, Message
from .claims import answer_in_progress
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


# A visitor message the bot has, unanswered for CHAT_UNANSWERED_AFTER_SECONDS with nothing
# answering it, was left by a process that died (a live answer ends within
# LLM_DEADLINE_SECONDS and holds its claim); older than UNANSWERED_WITHIN_S it is left alone
# (the visitor has long gone).
UNANSWERED_WITHIN_S = 3600
SWEEP_BATCH = 200


def _swept_key(visitor_message_id: int) -> str:
    return f"chat:unanswered-swept:{connection.schema_name}:{visitor_message_id}"


def unanswered_find(*, now: datetime | None = None) -> list[tuple[int, int]]:
    """(conversation id, visitor message id) of the messages left without an answer: the
    last visitor message of a conversation the bot has, text only (an attachment alone gets
    no answer), no reply, from ``CHAT_UNANSWERED_AFTER_SECONDS`` to ``UNANSWERED_WITHIN_S`` old, oldest
    first, at most ``SWEEP_BATCH``. Preconditions: the tenant's schema is active."""
    now = now or timezone.now()
    rows = Message.objects.filter(
        role=Message.Role.VISITOR,
        reply__isnull=True,
        attachments=[],
        created_at__lt=now - timedelta(seconds=settings.CHAT_UNANSWERED_AFTER_SECONDS),
        created_at__gte=now - timedelta(seconds=UNANSWERED_WITHIN_S),
        conversation__status=Conversation.Status.BOT,
        conversation__last_visitor_seq=F("seq"),
    )
    return list(rows.order_by("created_at", "pk").values_list("conversation_id", "pk")[:SWEEP_BATCH])


def unanswered_hand_over(*, now: datetime | None = None) -> int:
    """Queue ``answer_owed`` for each message :func:`unanswered_find` returns that nothing is
    answering, once per message (a cache mark). Returns how many were queued."""
    found = [(c, m) for c, m in unanswered_find(now=now) if not answer_in_progress(m)]
    found = [(c, m) for c, m in found if cache.add(_swept_key(m), 1, UNANSWERED_WITHIN_S)]
    if not found:
        return 0
    tenant_id = Tenant.objects.filter(schema_name=connection.schema_name).values_list("pk", flat=True).first()
    if tenant_id is None:
        return 0
    logger.warning(
        "answering %d visitor message(s) left without an answer in %s", len(found), connection.schema_name
    )
    for conversation_id, message_id in found:
        enqueue_on_commit(answer_owed, tenant_id, conversation_id, message_id)
    return len(found)


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60)
def unanswered_sweep() -> int:
    """Every minute (beat): visitor messages left without an answer by a process that
    died are answered, in every active workspace."""
    return each_active_workspace(unanswered_hand_over, what="chat: unanswered sweep")
