"""The worker's heartbeat: a bootstep of the worker's consumer that, every
``WORKER_HEARTBEAT_SECONDS``, writes the time into ``WORKER_HEARTBEAT_FILE`` (read by the
worker's own liveness probe, ``python -m scheduler.probe``) and renews the worker's key in
Redis (read by ``/readyz`` through ``saas.heartbeats``).

It runs on the consumer's timer, in the worker's event loop: a worker whose loop is stuck,
or that lost its broker connection and stopped consuming, stops beating, which a thread
of its own would not show. A clean stop removes both at once.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from celery import bootsteps
from django.conf import settings

from saas import heartbeats
from saas.dependency_state import describe, state_changed

logger = logging.getLogger(__name__)


def heartbeat_file_write(path: str) -> None:
    """Write the time atomically (a probe never reads half a file)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}")
    partial.write_text(f"{time.time():.3f}\n")
    partial.replace(target)


def beat_both(path: str, kind: str, *, name: str = "", ttl_seconds: int) -> None:
    """Write the heartbeat file (the process's liveness probe) and the Redis key (``/readyz``).
    A failure of either is logged once per change of state (``saas.dependency_state``), not
    once per beat, and never stops the other."""
    try:
        heartbeat_file_write(path)
    except OSError as error:
        state_changed(f"{kind} heartbeat file", False, describe(error))
    else:
        state_changed(f"{kind} heartbeat file", True)
    try:
        heartbeats.beat_write(kind, name=name, ttl_seconds=ttl_seconds)
    except Exception as error:  # Redis down: the file (the liveness probe) still beats
        state_changed(f"Redis ({kind} heartbeat)", False, describe(error))
    else:
        state_changed(f"Redis ({kind} heartbeat)", True)


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Added to ``app.steps["consumer"]`` by ``SchedulerConfig.ready``."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.tref: Any = None
        self.hostname = ""

    def start(self, parent: Any) -> None:
        self.hostname = str(parent.hostname)
        self.beat()
        self.tref = parent.timer.call_repeatedly(settings.WORKER_HEARTBEAT_SECONDS, self.beat, priority=10)

    def beat(self) -> None:
        beat_both(
            settings.WORKER_HEARTBEAT_FILE,
            "worker",
            name=self.hostname,
            ttl_seconds=3 * settings.WORKER_HEARTBEAT_SECONDS,
        )

    def stop(self, parent: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None
        Path(settings.WORKER_HEARTBEAT_FILE).unlink(missing_ok=True)
        try:
            heartbeats.beat_forget("worker", name=self.hostname)
        except Exception as error:  # Redis down: the key expires by itself
            logger.warning("worker heartbeat: could not remove the key (%s)", error)

    shutdown = stop
