"""Background work of the privacy app: the hourly deletion of workspaces whose grace period
has ended (beat: ``privacy-workspaces-delete-due``). It runs in the public schema and enters
no tenant's: ``tenant_delete`` drops the schema whole."""

from __future__ import annotations

from celery import shared_task

from .services import workspaces_delete_due


# A deletion drops a schema and a storage prefix: minutes at most, within the broker's
# visibility timeout (docs/deployment.md).
@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=1500, time_limit=1560)
def workspaces_delete_due_task() -> int:
    """Delete the workspaces due; a second run finds nothing left to do."""
    return workspaces_delete_due()
