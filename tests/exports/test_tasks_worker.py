"""The export job on a real Celery worker (Redis): queued from a workspace's schema, it runs
there (its rows, its storage prefix) and writes the file once. Data is committed (the
worker is another process) and deleted afterwards."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django_tenants.utils import tenant_context

from chat.models import Contact
from exports import tasks
from exports.models import ExportJob
from tests.chat.test_notifications_worker import worker_queue  # noqa: F401 (the fixture)
from widget_builder.models import Widget


@pytest.mark.worker
def test_an_export_job_runs_on_a_worker_in_its_workspace(worker_queue, seeded, django_db_blocker):  # noqa: F811
    tenant = seeded["a"].tenant
    with django_db_blocker.unblock(), tenant_context(tenant):
        widget = Widget.objects.order_by("id").first()
        contacts = Contact.objects.bulk_create(
            [Contact(widget=widget, name=f"Worker lead {i}", email=f"w{i}@example.org") for i in range(3)]
        )
        job = ExportJob.objects.create(
            kind="contacts",
            filters={"q": "worker lead"},
            requested_by_user_id=seeded["a"].owner.pk,
            requested_by_email=seeded["a"].owner.email,
            requested_by_role="owner",
        )
    try:
        with tenant_context(tenant):
            result = tasks.export_run.apply_async(args=[job.pk], queue=worker_queue)
        assert result.get(timeout=90) == "ready"
        with django_db_blocker.unblock(), tenant_context(tenant):
            job.refresh_from_db()
            assert job.rows == 3
            assert job.file_name.startswith(f"tenants/{tenant.schema_name}/exports/")
            with default_storage.open(job.file_name) as stored:
                assert b"Worker lead 2" in stored.read()
    finally:
        with django_db_blocker.unblock(), tenant_context(tenant):
            if job.file_name:
                default_storage.delete(job.file_name)
            ExportJob.objects.filter(pk=job.pk).delete()
            Contact.objects.filter(pk__in=[c.pk for c in contacts]).delete()
