"""Runs of a source's ingestion: which delivery of the task may work on a source, its
heartbeats, and the reaper's re-queue of a run whose worker vanished.

- Every queueing (a person adding or retrying a source, the sync schedule, the reaper)
  issues a new run number (``run_issue``); the task message carries it.
- The task claims its run (``run_claim``) before any work: a delivery of an older run (a
  message handed out again after the reaper re-queued the source) or of a source that is
  already ready does nothing. The same run delivered again (its pool process was killed
  and Celery re-queued the message) takes over at once when the process that held it is
  gone, otherwise when its heartbeat is stale.
- While it works, the run beats (``run_beat``) with every batch it writes, and at least
  every ``HEARTBEAT_SECONDS`` while it waits for pages: the beat is a compare-and-set on
  the run number, so a run another one has replaced stops (``Superseded``) before it
  writes anything more. The batch's document writes share the beat's transaction.
- The reaper (``knowledge.tasks.sources_reap_stale``, every minute) re-queues a
  processing source whose heartbeat is older than ``KNOWLEDGE_INGEST_STALE_SECONDS``:
  a compare-and-set on the run number and the stale heartbeat, so two reapers, or a late
  beat of the original worker, cannot make it twice. After
  ``KNOWLEDGE_INGEST_MAX_ATTEMPTS`` started runs the source fails with a reason instead.
- A source queued for longer than ``KNOWLEDGE_INGEST_QUEUED_RESEND_SECONDS`` (its message
  may be lost: the broker and the outbox's database both down when it was sent) has its
  run's message sent again (``runs_queued_resend``): a second copy of a message that was
  only slow finds the run claimed and does nothing. The same goes for a knowledge base
  re-embedding whose task stopped beating (``reembeds_stale``; its batches beat on the
  knowledge base's ``updated_at``).

Re-running is safe: each document's chunks are swapped in one transaction and unchanged
chunks reuse their vectors (``knowledge.ingestion``). Preconditions: the tenant's schema
is active.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from saas.tenant_connection import connection

from .models import KnowledgeBase, Source, source_finished

HEARTBEAT_SECONDS = 15
GAVE_UP = (
    "Processing stopped {attempts} times before it could finish (the server working on it "
    "went away). Try again; if it keeps stopping, split the content into smaller sources."
)


class Superseded(Exception):
    """Another run of the source took over (re-queued by the reaper or by a person): this
    one stops without writing anything more."""


def stale_after() -> timedelta:
    return timedelta(seconds=settings.KNOWLEDGE_INGEST_STALE_SECONDS)


def max_attempts() -> int:
    return int(settings.KNOWLEDGE_INGEST_MAX_ATTEMPTS)


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _owner_gone(owner: str) -> bool:
    """Whether the process named ``owner`` has ended; only known for this host's."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _returning(sql: str, params: list[Any]) -> int | None:
    with connection.cursor() as cursor:
        cursor.execute(sql.format(table=Source._meta.db_table), params)
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def run_issue(source_id: int) -> int:
    """Queue ``source_id`` under a new run; returns the run's number, which the task
    carries. Its attempts count from zero again."""
    run = _returning(
        "UPDATE {table} SET run = run + 1, status = %s, attempts = 0, heartbeat_at = NULL, "
        "error = '', updated_at = %s WHERE id = %s RETURNING run",
        [Source.Status.QUEUED, timezone.now(), source_id],
    )
    return run or 0


def _claim_fields(now: object) -> dict[str, object]:
    return {
        "status": Source.Status.PROCESSING,
        "attempts": F("attempts") + 1,
        "heartbeat_at": now,
        "worker": _owner(),
        "error": "",
        "progress_done": 0,
        "updated_at": now,
    }


def _may_take_over(status: str, heartbeat_at: datetime | None, worker: str) -> bool:
    if status == Source.Status.QUEUED:
        return True
    stale = heartbeat_at is None or heartbeat_at < timezone.now() - stale_after()
    return stale or _owner_gone(worker)


def run_claim(source_id: int, run: int | None) -> int | None:
    """Start working on ``source_id`` as ``run``; returns the run to carry on with, or None
    when this delivery must do nothing (an older run, a source already done, the run alive
    in another process, or too many attempts: then the source has failed). ``run`` None
    (a direct call, a message from before runs were numbered): a new run, at once."""
    now = timezone.now()
    if run is None:
        return _returning(
            "UPDATE {table} SET run = run + 1, status = %s, attempts = attempts + 1, heartbeat_at = %s, "
            "worker = %s, error = '', progress_done = 0, updated_at = %s WHERE id = %s RETURNING run",
            [Source.Status.PROCESSING, now, _owner(), now, source_id],
        )
    current = Source.objects.filter(
        pk=source_id, run=run, status__in=[Source.Status.QUEUED, Source.Status.PROCESSING]
    )
    row = current.values_list("status", "attempts", "heartbeat_at", "worker").first()
    if row is None:
        return None
    status, attempts, heartbeat_at, worker = row
    if not _may_take_over(status, heartbeat_at, worker):
        return None
    seen = current.filter(status=status, attempts=attempts, heartbeat_at=heartbeat_at)
    if attempts >= max_attempts():
        seen.update(status=Source.Status.FAILED, error=GAVE_UP.format(attempts=attempts), updated_at=now)
        return None
    return run if seen.update(**_claim_fields(now)) else None


def run_beat(source_id: int, run: int, *, done: int = 0) -> None:
    """Record that ``run`` is alive (and ``done`` more pages); raises ``Superseded`` when
    another run has taken the source over. Inside a transaction it also locks the source's
    row until the commit, so the batch written with it cannot be written by a run that
    replaced this one meanwhile."""
    now = timezone.now()
    updated = Source.objects.filter(pk=source_id, run=run, status=Source.Status.PROCESSING).update(
        heartbeat_at=now, progress_done=F("progress_done") + done, updated_at=now
    )
    if not updated:
        raise Superseded


def run_finish(source_id: int, run: int, **fields: object) -> bool:
    """Set ``fields`` (ready or failed) if ``run`` is still the source's current run."""
    fields.setdefault("updated_at", timezone.now())
    updated = Source.objects.filter(pk=source_id, run=run, status=Source.Status.PROCESSING).update(**fields)
    return bool(updated)


def runs_stale() -> list[tuple[int, int, int]]:
    """(source, run, attempts) of the processing sources whose heartbeat stopped."""
    cutoff = timezone.now() - stale_after()
    stale = Source.objects.filter(Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True))
    return list(stale.filter(status=Source.Status.PROCESSING).values_list("pk", "run", "attempts"))


def run_reap(source_id: int, run: int, attempts: int) -> int | None:
    """Re-queue the stale ``run`` of ``source_id`` under a new run (returned, to be sent),
    or fail the source when it has had its attempts. None: nothing to send (another reaper
    or the worker itself got there first, or the source failed)."""
    cutoff = timezone.now() - stale_after()
    if attempts >= max_attempts():
        failed = Source.objects.filter(
            Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True),
            pk=source_id,
            run=run,
            status=Source.Status.PROCESSING,
        ).update(
            status=Source.Status.FAILED, error=GAVE_UP.format(attempts=attempts), updated_at=timezone.now()
        )
        if failed:
            transaction.on_commit(
                lambda: source_finished.send(sender=Source, source_id=source_id, status=Source.Status.FAILED)
            )
        return None
    return _returning(
        "UPDATE {table} SET run = run + 1, status = %s, updated_at = %s WHERE id = %s AND run = %s "
        "AND status = %s AND (heartbeat_at IS NULL OR heartbeat_at < %s) RETURNING run",
        [Source.Status.QUEUED, timezone.now(), source_id, run, Source.Status.PROCESSING, cutoff],
    )


def runs_queued_resend() -> list[tuple[int, int]]:
    """(source, run) of the sources queued for longer than the resend delay, each marked
    as sent again now (a compare-and-set on its ``updated_at``: one resend per delay, even
    with two reapers). The caller sends them."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.KNOWLEDGE_INGEST_QUEUED_RESEND_SECONDS)
    waiting = Source.objects.filter(status=Source.Status.QUEUED, updated_at__lt=cutoff)
    resend = []
    for source_id, run, updated_at in waiting.values_list("pk", "run", "updated_at"):
        mine = Source.objects.filter(
            pk=source_id, run=run, status=Source.Status.QUEUED, updated_at=updated_at
        )
        if mine.update(updated_at=now):
            resend.append((source_id, run))
    return resend


def reembed_beat(kb_id: int) -> None:
    """A re-embedding of ``kb_id`` is alive (a batch was written, or it starts)."""
    KnowledgeBase.objects.filter(pk=kb_id).update(updated_at=timezone.now())


def reembeds_stale() -> list[int]:
    """The knowledge bases being re-embedded whose task stopped beating for the stale
    seconds, each marked as re-queued now (compare-and-set). The caller queues them."""
    now = timezone.now()
    stale = KnowledgeBase.objects.filter(reembedding=True, updated_at__lt=now - stale_after())
    requeue = []
    for kb_id, updated_at in stale.values_list("pk", "updated_at"):
        if KnowledgeBase.objects.filter(pk=kb_id, reembedding=True, updated_at=updated_at).update(
            updated_at=now
        ):
            requeue.append(kb_id)
    return requeue
