"""exports.files, exports.services and exports.tasks: an export above the threshold becomes
a job; its task writes the file under the tenant's prefix and emails the link; the link is
for the requester and the workspace's managers only, and answers 410 once the file has
expired and been deleted."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.core.files.storage import default_storage
from django.db import transaction
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from chat.models import Contact
from exports import files, tasks
from exports.models import ExportJob
from saas.csv_stream import BOM
from saas.tenant_connection import connection
from tests.billing.scenarios import restricted
from tests.emails import assert_product_email
from tests.tenants.factories import MembershipFactory
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db

LINK = re.compile(r"https://\S+/dashboard/exports/[0-9a-f-]{36}/download")


@pytest.fixture(autouse=True)
def export_tasks_here(monkeypatch, settings):
    """The job's task runs in this thread after the commit, in the schema it was queued
    from, inside the test's transaction; a threshold of 3 rows."""
    settings.EXPORTS_BACKGROUND_ROWS = 3

    def enqueue(task, *args, **kwargs):
        schema = connection.schema_name

        def run():
            with schema_context(schema):
                task.apply(args=args, kwargs=kwargs)

        transaction.on_commit(run)

    monkeypatch.setattr("exports.services.enqueue_on_commit", enqueue)


def _leads(tenant, n: int) -> None:
    with tenant_context(tenant):
        widget = Widget.objects.first()
        Contact.objects.bulk_create(
            [Contact(widget=widget, name=f"Lead {i}", email=f"l{i}@x.com") for i in range(n)]
        )


def _path(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def _download(client: Client, url: str) -> bytes:
    response = client.get(_path(url))
    assert response.status_code == 200, response.status_code

    async def read() -> bytes:
        return b"".join([piece async for piece in response.streaming_content])

    return async_to_sync(read)()


def test_a_large_export_becomes_a_job_whose_link_is_emailed(
    tenant_a, as_role, mailoutbox, django_capture_on_commit_callbacks
):
    _leads(tenant_a.tenant, 5)
    agent = MembershipFactory(tenant=tenant_a.tenant, role="agent").user
    client = Client(HTTP_HOST=tenant_a.host)
    client.force_login(agent)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/dashboard/contacts/export?q=lead", follow=True)
    assert response.redirect_chain == [("/dashboard/contacts/?q=lead", 302)]
    assert f"a link will be emailed to {agent.email}" in response.content.decode()

    with tenant_context(tenant_a.tenant):
        job = ExportJob.objects.get()
        assert (job.status, job.rows, job.kind, job.filters) == ("ready", 5, "contacts", {"q": "lead"})
        assert job.requested_by_user_id == agent.pk and job.requested_by_role == "agent"
        assert (
            job.file_name == f"tenants/{tenant_a.schema}/exports/{job.public_id}.csv"
        )  # the tenant's prefix
        assert default_storage.exists(job.file_name)
        expires = job.expires_at
    assert expires - job.finished_at == timedelta(hours=72)

    (email,) = mailoutbox
    assert email.to == [agent.email] and email.subject == "Your contacts export is ready"
    url = LINK.search(email.body).group(0)
    assert_product_email(email, url, "5 rows")

    content = _download(client, url)  # the requester
    assert content.startswith(BOM.encode())
    lines = list(csv.reader(io.StringIO(content.decode()[1:])))
    assert len(lines) == 6 and lines[1][1] == "Lead 4"

    _download(as_role("admin"), url)  # a manager of the workspace
    other_agent = as_role("agent")
    path = _path(url)
    assert other_agent.get(path).status_code == 404  # another agent: not theirs
    assert as_role("other").get(path).status_code == 404  # another workspace's owner
    assert as_role(None).get(path).status_code == 302  # sign in first

    with tenant_context(tenant_a.tenant):
        assert files.exports_expire(now=expires - timedelta(seconds=1)) == 0
        assert files.exports_expire(now=expires) == 1
        job.refresh_from_db()
        assert (job.status, job.file_name) == ("expired", "")
        assert not default_storage.exists(f"exports/{job.public_id}.csv")
    gone = client.get(path)
    assert gone.status_code == 410 and "This export has expired" in gone.content.decode()


def test_a_read_only_workspace_still_starts_an_export_job(
    tenant_a, owner, mailoutbox, django_capture_on_commit_callbacks
):
    _leads(tenant_a.tenant, 5)
    restricted(tenant_a.tenant)
    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post("/dashboard/contacts/export", follow=True)
    assert response.redirect_chain == [("/dashboard/contacts/", 302)]
    with tenant_context(tenant_a.tenant):
        assert ExportJob.objects.get().status == "ready"
    assert [email.subject for email in mailoutbox] == ["Your contacts export is ready"]


def test_a_job_runs_once_even_when_its_task_is_delivered_twice(tenant_a, mailoutbox):
    _leads(tenant_a.tenant, 4)
    with tenant_context(tenant_a.tenant):
        job = ExportJob.objects.create(
            kind="contacts",
            requested_by_user_id=tenant_a.owner.pk,
            requested_by_email="o@x.com",
            requested_by_role="owner",
        )
        assert tasks.export_run(job.pk) == "ready"
        assert tasks.export_run(job.pk) == "ready"
        assert tasks.export_run(job.pk + 1000) == "missing"
    assert len(mailoutbox) == 1


def test_a_job_that_fails_is_recorded_and_its_requester_told(tenant_a, mailoutbox, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(files, "csv_lines", broken)  # a storage or query failure mid-way
    with tenant_context(tenant_a.tenant):
        job = ExportJob.objects.create(
            kind="conversations",
            requested_by_user_id=1,
            requested_by_email="o@x.com",
            requested_by_role="owner",
        )
        assert tasks.export_run(job.pk) == "failed"
    (email,) = mailoutbox
    assert email.subject == "Your conversations export failed"
    assert_product_email(email, "/dashboard/conversations/")


def test_the_hourly_expiry_visits_every_workspace(tenant_a, tenant_b):
    stale = timezone.now() - timedelta(minutes=1)
    names = {}
    for seeded in (tenant_a, tenant_b):
        with tenant_context(seeded.tenant):
            name = default_storage.save("exports/old.csv", io.BytesIO(b"x"))
            ExportJob.objects.create(
                kind="contacts",
                requested_by_user_id=1,
                requested_by_email="o@x.com",
                requested_by_role="owner",
                status="ready",
                file_name=name,
                expires_at=stale,
            )
            names[seeded.schema] = name
    assert tasks.exports_expire_task() >= 2
    for seeded in (tenant_a, tenant_b):
        with tenant_context(seeded.tenant):
            assert ExportJob.objects.get().status == "expired"
            assert not default_storage.exists(names[seeded.schema])


def test_a_link_to_a_job_not_done_yet_says_so(tenant_a, as_role):
    with tenant_context(tenant_a.tenant):
        job = ExportJob.objects.create(
            kind="contacts",
            requested_by_user_id=tenant_a.owner.pk,
            requested_by_email="o@x.com",
            requested_by_role="owner",
        )
    response = as_role("owner").get(f"/dashboard/exports/{job.public_id}/download")
    assert response.status_code == 409 and "Still being prepared" in response.content.decode()
