"""The workspace's ZIP export (an exports job, owners only) and its self-serve deletion:
the emailed link, a bad link refused, the grace period with its banner and Undo, the
platform audit log and the owners' emails; only owners."""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile
from datetime import timedelta

import pytest
from django.core import mail
from django.core.files.base import ContentFile
from django.db import transaction
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from audit.models import AuditEvent
from chat.models import Attachment
from exports.models import ExportJob
from knowledge.models import KnowledgeBase, Source
from privacy.services.workspace import deletion_token
from saas.tenant_connection import connection
from tenants.models import PlatformAuditEvent, Tenant
from tests.chat.factories import ContactFactory, ConversationFactory, MessageFactory
from tests.emails import assert_product_email
from tests.tenants.factories import MembershipFactory, UserFactory
from widget_builder.models import Widget

from .leftovers import body

pytestmark = pytest.mark.django_db
LINK = re.compile(r"https://\S+/dashboard/settings/delete/confirm/\?token=\S+")


@pytest.fixture(autouse=True)
def export_tasks_here(monkeypatch):
    """The export job's task runs in this thread after the commit, in its schema."""

    def enqueue(task, *args, **kwargs):
        schema = connection.schema_name

        def run():
            with schema_context(schema):
                task.apply(args=args, kwargs=kwargs)

        transaction.on_commit(run)

    monkeypatch.setattr("exports.services.enqueue_on_commit", enqueue)


def _client(seeded, user) -> Client:
    client = Client(HTTP_HOST=seeded.host)
    client.force_login(user)
    return client


def _member(seeded, role):
    return seeded.owner if role == "owner" else MembershipFactory(tenant=seeded.tenant, role=role).user


def test_owner_exports_the_whole_workspace(tenant_a, django_capture_on_commit_callbacks):
    marker = f"WS{uuid.uuid4().hex[:10].upper()}"
    with tenant_context(tenant_a.tenant):
        widget = Widget.objects.order_by("pk").first()
        contact = ContactFactory(widget=widget, name=f"Lead {marker}")
        conversation = ConversationFactory(widget=widget, contact=contact)
        message = MessageFactory(conversation=conversation, text=f"hello {marker}")
        attachment = Attachment.objects.create(
            conversation=conversation,
            message=message,
            name="a.txt",
            content_type="text/plain",
            size=5,
            file=ContentFile(f"file {marker}".encode(), name="upload"),
        )
        base = KnowledgeBase.objects.order_by("pk").first()
        source = Source.objects.create(
            knowledge_base=base,
            kind="file",
            title=f"Manual {marker}",
            file_name="manual.txt",
            file=ContentFile(f"manual {marker}".encode(), name="manual.txt"),
        )
    owner = _client(tenant_a, tenant_a.owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post("/dashboard/settings/export")
    assert response.status_code == 302
    with tenant_context(tenant_a.tenant):
        job = ExportJob.objects.get(kind=ExportJob.Kind.WORKSPACE)
        assert job.status == ExportJob.Status.READY and job.file_name.endswith(".zip")
        assert AuditEvent.objects.filter(
            action="workspace.export_requested", target_id=str(job.public_id)
        ).exists()
    [email] = [m for m in mail.outbox if tenant_a.owner.email in m.to]
    link = f"/dashboard/exports/{job.public_id}/download"
    assert_product_email(email, link, "ZIP archive")
    download = owner.get(link)
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(body(download)))
    names = set(archive.namelist())
    assert {
        "workspace.json",
        "widgets.jsonl",
        "bots.jsonl",
        "knowledge_sources.jsonl",
        "contacts.jsonl",
        "conversations.jsonl",
    } <= names
    workspace = json.loads(archive.read("workspace.json"))
    assert workspace["workspace"]["slug"] == "tenant-a"
    assert tenant_a.owner.email in [m["email"] for m in workspace["members"]]
    assert marker in archive.read("contacts.jsonl").decode()
    conversations = [json.loads(line) for line in archive.read("conversations.jsonl").decode().splitlines()]
    mine = next(c for c in conversations if c["id"] == conversation.pk)
    assert mine["messages"][0]["text"] == f"hello {marker}"
    assert archive.read(mine["attachments"][0]["archive_path"]) == f"file {marker}".encode()
    assert f"manual {marker}".encode() in [archive.read(n) for n in names if n.startswith("knowledge/")]
    widgets = archive.read("widgets.jsonl").decode()
    assert "identity_secret" not in widgets  # secrets never leave
    # An admin may neither ask for nor download the owner's archive.
    admin = _client(tenant_a, _member(tenant_a, "admin"))
    assert admin.get(link).status_code == 404
    assert admin.post("/dashboard/settings/export").status_code == 403
    with tenant_context(tenant_a.tenant):
        attachment.file.delete(save=False)
        source.file.delete(save=False)


@pytest.mark.parametrize("role", ["admin", "agent"])
def test_only_owners_export_or_delete_the_workspace(tenant_a, role):
    client = _client(tenant_a, _member(tenant_a, role))
    assert client.post("/dashboard/settings/export").status_code == 403
    assert client.post("/dashboard/settings/delete").status_code == 403
    token = deletion_token(tenant=tenant_a.tenant, user=tenant_a.owner)
    assert client.post("/dashboard/settings/delete/confirm/", {"token": token}).status_code == 403
    assert client.post("/dashboard/settings/delete/undo").status_code == 403
    tenant_a.tenant.refresh_from_db()
    assert tenant_a.tenant.delete_after is None
    with tenant_context(tenant_a.tenant):
        assert not ExportJob.objects.filter(kind=ExportJob.Kind.WORKSPACE).exists()


def _request_link(client, seeded, django_capture_on_commit_callbacks) -> str:
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/dashboard/settings/delete")
    assert response.status_code == 302
    [email] = [m for m in mail.outbox if m.subject.startswith("Confirm the deletion")]
    text, _ = assert_product_email(email, seeded.tenant.name)
    return LINK.search(text).group(0).split(seeded.host, 1)[1]


def test_deletion_is_confirmed_by_the_emailed_link_and_can_be_undone(
    tenant_a, django_capture_on_commit_callbacks
):
    owner = _client(tenant_a, tenant_a.owner)
    second_owner = MembershipFactory(tenant=tenant_a.tenant, role="owner").user
    path = _request_link(owner, tenant_a, django_capture_on_commit_callbacks)
    tenant_a.tenant.refresh_from_db()
    assert tenant_a.tenant.delete_after is None  # asking changes nothing yet

    page = owner.get(path)
    assert page.status_code == 200 and b"Delete in 14 days" in page.content
    tenant_a.tenant.refresh_from_db()
    assert tenant_a.tenant.delete_after is None  # opening the link (a mail scanner) neither
    token = path.split("token=", 1)[1]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = owner.post("/dashboard/settings/delete/confirm/", {"token": token})
    assert confirmed.status_code == 302
    tenant_a.tenant.refresh_from_db()
    due = tenant_a.tenant.delete_after
    assert due is not None and abs(due - (timezone.now() + timedelta(days=14))) < timedelta(minutes=1)
    assert PlatformAuditEvent.objects.filter(
        action="tenant.deletion_scheduled", target_id=str(tenant_a.tenant.pk)
    ).exists()
    assert sorted(m.to[0] for m in mail.outbox) == sorted([tenant_a.owner.email, second_owner.email])
    assert_product_email(mail.outbox[0], tenant_a.tenant.name)

    # Every member sees the banner; owners get Undo.
    agent = _client(tenant_a, _member(tenant_a, "agent"))
    seen = agent.get("/dashboard/contacts/")
    assert b'id="deletion-banner"' in seen.content and b"Ask an owner to undo it" in seen.content
    assert b"delete/undo" not in seen.content
    assert b"delete/undo" in owner.get("/dashboard/").content

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert owner.post("/dashboard/settings/delete/undo").status_code == 302
    tenant_a.tenant.refresh_from_db()
    assert tenant_a.tenant.delete_after is None
    assert PlatformAuditEvent.objects.filter(action="tenant.deletion_cancelled").exists()
    assert len(mail.outbox) == 2 and "undone" in mail.outbox[0].subject
    with tenant_context(tenant_a.tenant):
        actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "workspace.deletion_requested",
        "workspace.deletion_scheduled",
        "workspace.deletion_cancelled",
    } <= actions
    assert b'id="deletion-banner"' not in agent.get("/dashboard/contacts/").content


@pytest.mark.parametrize("token", ["", "garbage", "forged:1:2"])
def test_a_bad_link_is_refused(tenant_a, token):
    owner = _client(tenant_a, tenant_a.owner)
    page = owner.get(f"/dashboard/settings/delete/confirm/?token={token}")
    if token:
        assert page.status_code == 400 and b"This link cannot be used" in page.content
    else:  # opened without a link: where the link comes from
        assert page.status_code == 200 and b"No confirmation link" in page.content
    answer = owner.post("/dashboard/settings/delete/confirm/", {"token": token})
    assert answer.status_code == 400 and b"The deletion was not confirmed" in answer.content
    tenant_a.tenant.refresh_from_db()
    assert tenant_a.tenant.delete_after is None


def test_another_owners_or_workspaces_link_is_refused(tenant_a, tenant_b):
    other_owner = MembershipFactory(tenant=tenant_a.tenant, role="owner").user
    owner = _client(tenant_a, tenant_a.owner)
    for token in (
        deletion_token(tenant=tenant_a.tenant, user=other_owner),  # another person's
        deletion_token(tenant=tenant_b.tenant, user=tenant_a.owner),  # another workspace's
    ):
        assert owner.post("/dashboard/settings/delete/confirm/", {"token": token}).status_code == 400
    expired = deletion_token(tenant=tenant_a.tenant, user=tenant_a.owner)
    tenant_a.tenant.refresh_from_db()
    assert tenant_a.tenant.delete_after is None
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("django.core.signing.time.time", lambda: timezone.now().timestamp() + 25 * 3600)
        assert owner.post("/dashboard/settings/delete/confirm/", {"token": expired}).status_code == 400
    tenant_a.tenant.refresh_from_db()
    assert tenant_a.tenant.delete_after is None


def test_a_stranger_learns_nothing(tenant_a):
    stranger = _client(tenant_a, UserFactory())
    assert stranger.post("/dashboard/settings/delete").status_code == 404
    assert Tenant.objects.get(pk=tenant_a.tenant.pk).delete_after is None
