"""The purge: what the workspace keeps no longer goes, a small batch at a time.

Per workspace (``retention_purge``), after narrowing the stored policy to the plan's bound:

1. conversations whose last activity (the last message, or the start when there is none)
   is older than their period, with their messages, attachments and files
   (``chat.services.conversations_delete``, the one deletion path);
2. attachments older than their period in conversations that stay: row and file go, the
   message keeps an entry marked removed (``chat.services.attachments_remove``);
3. contacts not seen within their period and with no conversation left
   (``chat.services.contacts_delete_unused``).

Each batch is its own short transaction: ``SET LOCAL lock_timeout``; rows locked ``FOR
UPDATE SKIP LOCKED`` (a conversation a visitor is writing to right now is left for the next
run); at most ``RETENTION_BATCH_CONVERSATIONS`` or ``RETENTION_BATCH_ROWS`` rows, fewer
while batches hold their locks longer than ``RETENTION_BATCH_TARGET_MS``; walked in key
order (every batch moves forward: the run ends). The run's
``PurgeRun`` row is updated in each batch's transaction, so it always says what was
removed. A run killed halfway leaves committed batches done and the rest for the next run
(idempotent: what is gone is not counted again). Runs of one workspace never overlap (an
advisory lock; a second one returns at once). Files are removed after each batch commits.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from audit.services import audit_record
from chat.models import Attachment, Contact, Conversation
from chat.services import Removed, attachments_remove, contacts_delete_unused, conversations_delete
from saas.tenant_connection import connection

from ..models import PurgeRun
from ..selectors import retention_in_force
from .policy import retention_policy_narrow

logger = logging.getLogger(__name__)
MIN_BATCH = 20  # the smallest batch the adaptive size goes down to


@dataclasses.dataclass
class PurgeOutcome:
    """What one workspace's run did (``skipped``: another run of it was under way)."""

    run: PurgeRun | None
    skipped: bool = False
    finished: bool = True  # False: stopped at its deadline, the rest for the next run

    def counts(self) -> dict[str, int]:
        return (
            self.run.counts()
            if self.run is not None
            else dict.fromkeys(("conversations", "messages", "attachments", "contacts"), 0)
        )


class _Runner:
    """One run: its row, its deadline, and the batch loop each phase shares."""

    def __init__(self, run: PurgeRun, deadline: float | None) -> None:
        self.run = run
        self.deadline = deadline
        self.longest_ms = 0

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def phase(
        self, pick: Callable[[int, int], list[int]], remove: Callable[[list[int]], dict[str, int]], most: int
    ) -> bool:
        """Batches of ``pick(after_pk, size)`` handed to ``remove`` until none is left (True) or
        the deadline (False). The size adapts to the time a batch takes: a third smaller
        after one that held its locks longer than ``RETENTION_BATCH_TARGET_MS``, a quarter
        bigger (up to ``most``) after one under half of it, so a busy or slow database still
        sees short locks."""
        # Start small (the first batch's locks count too) and grow while batches are quick.
        least = min(MIN_BATCH, most)
        after, size = 0, max(least, most // 4)
        target = settings.RETENTION_BATCH_TARGET_MS
        while not self.out_of_time():
            started = time.perf_counter()
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(f"SET LOCAL lock_timeout = '{int(settings.RETENTION_LOCK_TIMEOUT_MS)}ms'")
                ids = pick(after, size)
                if not ids:
                    return True
                after = ids[-1]
                removed = remove(ids)
                self.longest_ms = max(self.longest_ms, round((time.perf_counter() - started) * 1000))
                PurgeRun.objects.filter(pk=self.run.pk).update(
                    batches=F("batches") + 1,
                    longest_batch_ms=Greatest("longest_batch_ms", self.longest_ms),
                    **{name: F(name) + n for name, n in removed.items() if n},
                )
            # The commit (the deferred foreign-key checks run there) is part of the time
            # the batch held its locks.
            took = (time.perf_counter() - started) * 1000
            self.longest_ms = max(self.longest_ms, round(took))
            if took > target:
                size = max(least, size * 2 // 3)
            elif took < target / 2:
                size = min(most, size + max(1, size // 4))
        return False


def _cutoff(now: datetime, days: int | None) -> datetime | None:
    return None if days is None else now - timedelta(days=days)


def _conversations(cutoff: datetime) -> Callable[[int, int], list[int]]:
    stale = Q(last_message_at__lt=cutoff) | Q(last_message_at__isnull=True, created_at__lt=cutoff)

    def pick(after: int, size: int) -> list[int]:
        rows = (
            Conversation.objects.filter(stale, pk__gt=after)
            .order_by("pk")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:size]
        )
        return list(rows)

    return pick


def _attachments(cutoff: datetime) -> Callable[[int, int], list[int]]:
    def pick(after: int, size: int) -> list[int]:
        rows = Attachment.objects.filter(created_at__lt=cutoff, pk__gt=after).order_by("pk")
        return list(rows.values_list("pk", flat=True)[:size])

    return pick


def _contacts(cutoff: datetime) -> Callable[[int, int], list[int]]:
    def pick(after: int, size: int) -> list[int]:
        rows = (
            Contact.objects.filter(last_seen_at__lt=cutoff, pk__gt=after)
            .filter(~Exists(Conversation.objects.filter(contact_id=OuterRef("pk"))))
            .order_by("pk")
        )
        return list(rows.values_list("pk", flat=True)[:size])

    return pick


def _remove_conversations(ids: list[int]) -> dict[str, int]:
    removed: Removed = conversations_delete(conversation_ids=ids)
    return removed.as_dict()


def _interrupted_close() -> None:
    """Runs left "running" by a killed process: the advisory lock is ours, so none is alive."""
    PurgeRun.objects.filter(status=PurgeRun.Status.RUNNING).update(
        status=PurgeRun.Status.INTERRUPTED, finished_at=timezone.now()
    )


def _lock_key() -> str:
    return f"retention.purge:{connection.schema_name}"


def retention_purge(
    *, tenant: Any, now: datetime | None = None, deadline: float | None = None
) -> PurgeOutcome:
    """Purge this workspace per its policy in force (see the module). ``now`` fixes the
    clock the periods count back from; ``deadline`` (``time.monotonic()``) stops the run
    between batches, the rest left for the next one. Must not run inside a transaction (its
    batches commit one by one; inside one they are savepoints and nothing is freed until
    the caller commits). Records a ``PurgeRun``, and a ``retention.purged`` audit
    event when anything was removed."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [_lock_key()])
        if not cursor.fetchone()[0]:
            return PurgeOutcome(run=None, skipped=True)
    try:
        return _purge(tenant=tenant, now=now or timezone.now(), deadline=deadline)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [_lock_key()])


def _purge(*, tenant: Any, now: datetime, deadline: float | None) -> PurgeOutcome:
    _interrupted_close()
    retention_policy_narrow(tenant=tenant)
    days = retention_in_force(tenant=tenant).days
    limits = dict(days)
    run = PurgeRun.objects.create(started_at=now, limits=limits)
    runner = _Runner(run, deadline)
    conversations_size = settings.RETENTION_BATCH_CONVERSATIONS
    rows_size = settings.RETENTION_BATCH_ROWS
    Phase = tuple[Callable[[int, int], list[int]], Callable[[list[int]], dict[str, int]], int]
    phases: list[Phase] = []
    if (cutoff := _cutoff(now, days["conversations_days"])) is not None:
        phases.append((_conversations(cutoff), _remove_conversations, conversations_size))
    if (cutoff := _cutoff(now, days["attachments_days"])) is not None:
        phases.append(
            (
                _attachments(cutoff),
                lambda ids: {"attachments": attachments_remove(attachment_ids=ids)},
                rows_size,
            )
        )
    if (cutoff := _cutoff(now, days["contacts_days"])) is not None:
        seen_before = cutoff
        phases.append(
            (
                _contacts(seen_before),
                lambda ids: {"contacts": contacts_delete_unused(contact_ids=ids, seen_before=seen_before)},
                rows_size,
            )
        )
    finished = True
    try:
        for pick, remove, most in phases:
            if not runner.phase(pick, remove, most):
                finished = False
                break
    except Exception as error:
        PurgeRun.objects.filter(pk=run.pk).update(
            status=PurgeRun.Status.FAILED, finished_at=timezone.now(), error=type(error).__name__[:500]
        )
        raise
    with transaction.atomic():
        run = PurgeRun.objects.select_for_update().get(pk=run.pk)
        run.status = PurgeRun.Status.DONE if finished else PurgeRun.Status.INTERRUPTED
        run.finished_at = timezone.now()
        run.longest_batch_ms = max(run.longest_batch_ms, runner.longest_ms)
        run.save(update_fields=["status", "finished_at", "longest_batch_ms"])
        if any(run.counts().values()):
            audit_record(
                action="retention.purged",
                target=run,
                metadata={**run.counts(), "limits": limits, "finished": finished},
            )
    if not finished:
        logger.info("retention: %s stopped at its deadline; the next run goes on", connection.schema_name)
    return PurgeOutcome(run=run, finished=finished)
