from __future__ import annotations

from django.db import models


class OutboxTask(models.Model):
    """A task the broker refused, with what it takes to send it again (public schema)."""

    task_name = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    # The schema the task was sent from: it runs there (tenant-schemas-celery's header).
    schema_name = models.CharField(max_length=63)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.task_name} ({self.schema_name}, {self.attempts} attempts)"
