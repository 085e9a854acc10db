"""CSV exports too large to stream in the request, and the workspace's ZIP: the job a
member asked for, run by a Celery task (``exports.tasks``), its file in the default storage
under the tenant's prefix until it expires. In the tenant's schema."""

import uuid

from django.db import models
from django.utils import timezone


class ExportJob(models.Model):
    class Kind(models.TextChoices):
        CONTACTS = "contacts", "Contacts"
        CONVERSATIONS = "conversations", "Conversations"
        # The whole workspace as a ZIP (exports.archives), for its owners (docs/privacy.md).
        WORKSPACE = "workspace", "Workspace"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired"

    # In the emailed link: unguessable, and no count of the workspace's exports.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # The page's query parameters when the export was asked for (its filters).
    filters = models.JSONField(default=dict, blank=True)
    # Users live in the public schema: ids as plain numbers (as chat's assignees).
    requested_by_user_id = models.PositiveIntegerField()
    requested_by_email = models.EmailField()
    requested_by_role = models.CharField(max_length=16)  # what they could see when they asked
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True)
    rows = models.PositiveIntegerField(null=True, blank=True)
    file_name = models.CharField(max_length=300, blank=True, default="")  # in the default storage
    error = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} export {self.public_id}"
