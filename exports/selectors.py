"""Reads of exports. Preconditions: the tenant's schema is active."""

from __future__ import annotations

import uuid

from tenants.dashboard import MANAGERS
from tenants.models import Membership

from .models import ExportJob


def export_job_for(*, public_id: uuid.UUID, user_id: int, role: str) -> ExportJob | None:
    """The export job, if this member may download it: whoever asked for it, or an owner
    or admin of the workspace (a support session does not download visitors' data). The
    workspace's archive is its owners' only."""
    job = ExportJob.objects.filter(public_id=public_id).first()
    if job is None:
        return None
    if job.kind == ExportJob.Kind.WORKSPACE:
        return job if role == Membership.Role.OWNER else None
    if job.requested_by_user_id != user_id and role not in MANAGERS:
        return None
    return job
