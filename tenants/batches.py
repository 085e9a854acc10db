"""Deleting many rows without long locks: the housekeeping jobs of every app delete what
they found a batch at a time, each batch in its own short transaction, so a job stopped
half-way (a deploy, a time limit) has committed what it did and the next run goes on from
there."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import models, transaction

logger = logging.getLogger(__name__)


def batch_committed(what: str, count: int) -> None:
    """Called after each committed batch (progress for the logs at debug level)."""
    logger.debug("%s: %d rows deleted in a batch", what, count)


def batched_delete(
    queryset: models.QuerySet[models.Model],
    *,
    what: str,
    batch_size: int | None = None,
    before_delete: Callable[[list[object]], None] | None = None,
) -> int:
    """Delete the rows of ``queryset`` (re-evaluated for every batch, so rows that stop
    matching are left alone) in batches of ``batch_size`` primary keys, one transaction
    each; ``before_delete`` runs inside it with the batch's keys. Returns the rows of the
    queryset's model deleted (cascaded rows are not counted)."""
    size = batch_size or settings.HOUSEKEEPING_BATCH_SIZE
    model = queryset.model
    total = 0
    while True:
        with transaction.atomic():
            # Rows another transaction holds (a visitor coming back) are left for the next run.
            locked = queryset.order_by("pk").select_for_update(skip_locked=True)
            keys = list(locked.values_list("pk", flat=True)[:size])
            if not keys:
                return total
            if before_delete is not None:
                before_delete(keys)
            _, per_model = model._default_manager.filter(pk__in=keys).delete()
            deleted = per_model.get(model._meta.label, 0)
        total += deleted
        batch_committed(what, deleted)
        if len(keys) < size:
            return total
