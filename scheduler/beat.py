"""Beat's scheduler: django-celery-beat's ``DatabaseScheduler`` that keeps staff's changes.

``CELERY_BEAT_SCHEDULER`` names it, so every ``celery beat`` and ``celery worker --beat``
uses it. Two differences from the parent:

* Start-up calls ``scheduler.services.schedules_sync`` instead of the parent's
  ``update_from_dict(beat_schedule)``, which ``update_or_create``s every declared entry and
  so writes the declared interval back over the one staff chose on each beat restart. The
  sync only creates missing jobs and removes undeclared ones. Celery's own
  ``celery.backend_cleanup`` entry is not installed: the Redis result backend expires its
  results by itself.
* Every tick renews beat's heartbeat (at most every 5 s): in Redis (``saas.heartbeats``),
  which ``/readyz`` reports as ``beat``, and in ``BEAT_HEARTBEAT_FILE``, which the beat
  pod's liveness probe reads (``python -m scheduler.probe --file ...``).
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django_celery_beat.schedulers import DatabaseScheduler

from .heartbeat import beat_both
from .services import schedules_sync

HEARTBEAT_EVERY_S = 5.0


class ProjectScheduler(DatabaseScheduler):  # type: ignore[misc]
    _last_heartbeat = 0.0

    def setup_schedule(self) -> None:
        schedules_sync(declared=self.app.conf.beat_schedule)

    def install_default_entries(self, data: Any) -> None:
        """No ``celery.backend_cleanup``: results expire in Redis by themselves."""

    def tick(self, *args: Any, **kwargs: Any) -> float:
        self.heartbeat()
        return float(super().tick(*args, **kwargs))

    def heartbeat(self) -> None:
        now = time.monotonic()
        if now - self._last_heartbeat < HEARTBEAT_EVERY_S:
            return
        self._last_heartbeat = now
        # Redis down: beat goes on (and /readyz reports it degraded); logged once per change.
        beat_both(settings.BEAT_HEARTBEAT_FILE, "beat", ttl_seconds=settings.BEAT_HEARTBEAT_MAX_AGE)
