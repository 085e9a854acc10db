from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from scheduler.services import schedules_sync


class Command(BaseCommand):
    help = (
        "Create the periodic jobs of CELERY_BEAT_SCHEDULE missing from the database and remove "
        "the ones no longer declared; staff's changes (interval, enabled) are kept. Beat does "
        "the same when it starts."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        counts = schedules_sync()
        self.stdout.write(", ".join(f"{name} {count}" for name, count in counts.items()))
