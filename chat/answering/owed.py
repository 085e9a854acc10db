"""Answers owed: a visitor message stored just before the database went away, whose answer
could not be prepared or stored, is answered once the database is back.

The widget, its stream broken, polls the conversation for up to ten minutes while
``awaiting_answer_after`` says an answer is coming; these keep that promise.

* In the process that failed (:func:`answer_owe`): a thread of its own tries again with a
  back-off of 1 s doubling to 3 s, one probe at a time while the database is unreachable,
  then the rest in parallel. When the provider had already answered (only storing it
  failed), that text is stored: no second provider call, no second credit. Otherwise the
  answer is made as the request would have made it (``answer_prepare``, then the stream).
* Should that process die meanwhile, a Celery task sent to the broker (up when only
  PostgreSQL is down) does the same after ``WORKER_DELAY_S``; it finds the answer stored and
  does nothing in the usual case. With the broker down too, only the process's own attempt
  remains (docs/deployment.md).

At most one answer per visitor message still holds: each attempt first looks for a stored
answer, a running one holds the cache claim, and the reply's client message id is unique.
Given up after ``GIVE_UP_S`` (the widget stops waiting then too), with a log line.

A web process shutting down (``saas.shutdown``) owes an answer too when its grace period
ends before the answer does: :func:`answer_hand_over` gives the credit back, lets go of the
claim and hands the message to a worker at once (the process is about to exit: no thread
of its own).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.core.cache import cache
from django_tenants.utils import schema_context

from billing.services import usage_refund
from saas.celery import app, publish
from saas.tenant_connection import connection

from .claims import owed_key
from .outcome import Prepared

logger = logging.getLogger(__name__)

GIVE_UP_S = 600.0
BACKOFF_S = (1.0, 2.0, 3.0)  # between attempts while the database is unreachable
WORKER_DELAY_S = 120  # the broker's copy: after the process had its chance
PARALLEL = 4
WORKER_TASK = "chat.answering.owed_settle.answer_owed"

DONE, RETRY, DROPPED = "done", "retry", "dropped"


@dataclasses.dataclass
class Owed:
    schema: str
    tenant_id: int
    conversation_id: int
    visitor_message_id: int
    # The provider's answer when only storing it failed: answer_finish's arguments.
    finish: dict[str, Any] | None = None
    prepared: Prepared | None = None
    since: float = dataclasses.field(default_factory=time.monotonic)
    tries: int = 0
    due: float = 0.0


def settle_with(settle: Callable[[Owed], str]) -> None:
    """The attempt the owed answers' thread makes (``owed_settle.answer_owed_settle``, which
    needs the whole pipeline: handed in by the package, as the stream calls this module)."""
    _Settler.settle = settle


class _Settler:
    settle: Callable[[Owed], str] | None = None


def _settle_here(owed: Owed) -> str:
    """One attempt in one of this process's own threads, whose connection is
    closed after each attempt (one the outage broke is not kept for the next)."""
    settle = _Settler.settle
    if settle is None:  # the package's wiring did not run: nothing can answer it here
        return DROPPED
    try:
        return settle(owed)
    finally:
        connection.close()


class _Debts:
    """This process's owed answers and the thread that settles them."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._owed: dict[tuple[str, int], Owed] = {}
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None

    def add(self, owed: Owed) -> None:
        mark_owed(owed, True)
        with self._lock:
            self._owed.setdefault((owed.schema, owed.visitor_message_id), owed)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="answers-owed", daemon=True)
                self._thread.start()
            self._lock.notify()

    def pending(self) -> list[tuple[str, int]]:
        with self._lock:
            return list(self._owed)

    def _due(self) -> list[Owed]:
        """Wait for owed answers that are due; the oldest first."""
        with self._lock:
            while True:
                now = time.monotonic()
                due = sorted((o for o in self._owed.values() if o.due <= now), key=lambda o: o.since)
                if due:
                    return due
                wait = min((o.due for o in self._owed.values()), default=now + 60) - now
                self._lock.wait(timeout=max(wait, 0.05))

    def _run(self) -> None:
        while True:
            due = self._due()
            # One probe first: while the database is unreachable, one attempt at a time.
            results = [(due[0], _settle_here(due[0]))]
            if results[0][1] != RETRY and len(due) > 1:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(PARALLEL, thread_name_prefix="answers-owed")
                results += zip(due[1:], self._pool.map(_settle_here, due[1:]), strict=True)
            self._settled(results)

    def _settled(self, results: list[tuple[Owed, str]]) -> None:
        now = time.monotonic()
        with self._lock:
            for owed, result in results:
                key = (owed.schema, owed.visitor_message_id)
                if result == RETRY and now - owed.since < GIVE_UP_S:
                    owed.due = now + BACKOFF_S[min(owed.tries, len(BACKOFF_S) - 1)]
                    owed.tries += 1
                    continue
                self._owed.pop(key, None)
                mark_owed(owed, False)
                if result == DONE:
                    logger.info(
                        "answer owed given conversation=%s message=%s after %.1f s",
                        owed.conversation_id,
                        owed.visitor_message_id,
                        now - owed.since,
                    )
                elif result == RETRY:
                    logger.warning(
                        "answer owed given up conversation=%s message=%s after %.0f s",
                        owed.conversation_id,
                        owed.visitor_message_id,
                        now - owed.since,
                    )


def mark_owed(owed: Owed, on: bool) -> None:
    """The widget's polls read it (``awaiting_answer_after``): an answer is still coming.
    Never fails the work: with the cache down, the poll just stops earlier."""
    try:
        with schema_context(owed.schema):  # cache keys carry the schema
            if on:
                cache.set(owed_key(owed.visitor_message_id), 1, timeout=int(GIVE_UP_S))
            else:
                cache.delete(owed_key(owed.visitor_message_id))
    except Exception:  # a mark, not the answer
        logger.debug("answer owed mark not %s", "set" if on else "cleared", exc_info=True)


_debts = _Debts()


def answer_owe(
    *,
    schema: str,
    tenant_id: int,
    conversation_id: int,
    visitor_message_id: int,
    prepared: Prepared | None = None,
    finish: dict[str, Any] | None = None,
) -> None:
    """Record that the stored visitor message is owed an answer (the database went away
    before it was stored): this process tries again, and the broker gets a copy for a worker."""
    _debts.add(
        Owed(
            schema=schema,
            tenant_id=tenant_id,
            conversation_id=conversation_id,
            visitor_message_id=visitor_message_id,
            prepared=prepared,
            finish=finish,
            due=time.monotonic() + BACKOFF_S[0],
        )
    )
    _worker_copy(schema, tenant_id, conversation_id, visitor_message_id)


def owed_from_prepared(prepared: Prepared, finish: dict[str, Any] | None = None) -> None:
    """:func:`answer_owe` for a prepared answer; ``finish``: answer_finish's arguments when
    the provider has answered already."""
    answer_owe(
        schema=prepared.schema,
        tenant_id=prepared.tenant_id,
        conversation_id=prepared.conversation_id,
        visitor_message_id=prepared.visitor_message_id,
        prepared=prepared,
        finish=finish,
    )


def answers_owed_pending() -> list[tuple[str, int]]:
    """The owed answers this process still holds: (schema, visitor message id)."""
    return _debts.pending()


def _worker_copy(schema: str, tenant_id: int, conversation_id: int, visitor_message_id: int) -> None:
    if app.conf.task_always_eager:  # no broker: the process's own attempt is all there is
        return
    task = app.tasks[WORKER_TASK]  # chat.answering.owed_settle (it imports this module)
    publish(task, schema, (tenant_id, conversation_id, visitor_message_id), {}, countdown=WORKER_DELAY_S)


def answer_hand_over(prepared: Prepared) -> bool:
    """Hand an answer still being written by a process that stops to a worker, which
    answers the visitor message afresh (``answer_owed``, at once): the credit this attempt
    took is given back (the worker's takes one), its claim let go, the message marked owed
    (the widget's polls keep waiting). False without a broker (nothing done: the caller
    stores what it has). Preconditions: the tenant's schema is active."""
    if app.conf.task_always_eager:
        return False
    if prepared.metric:
        usage_refund(tenant_id=prepared.tenant_id, metric=prepared.metric)
        prepared.metric = ""
    if prepared.claim_key:
        cache.delete(prepared.claim_key)
    mark_owed(
        Owed(prepared.schema, prepared.tenant_id, prepared.conversation_id, prepared.visitor_message_id), True
    )
    task = app.tasks[WORKER_TASK]
    args = (prepared.tenant_id, prepared.conversation_id, prepared.visitor_message_id)
    publish(task, prepared.schema, args, {})
    logger.warning(
        "answer handed to a worker (shutdown) conversation=%s message=%s",
        prepared.conversation_id,
        prepared.visitor_message_id,
    )
    return True
