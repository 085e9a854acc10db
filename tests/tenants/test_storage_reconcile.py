"""Stored files no row points to (tenants.services.storage_reconcile, ``manage.py
storage_reconcile``): per workspace prefix, with a grace age and a dry run, and the
prefixes of schemas that no longer exist."""

from __future__ import annotations

import os
from datetime import timedelta
from io import StringIO
from pathlib import Path

import boto3
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone
from django_tenants.utils import schema_context
from moto import mock_aws

from chat.models import Attachment
from exports.models import ExportJob
from tenants.services import storage_reconcile as reconcile_module
from tenants.services.storage_reconcile import storage_reconcile
from tenants.tasks import storage_reconcile_task
from tests.chat.factories import AttachmentFactory

HOUR = timedelta(hours=1)


@pytest.fixture
def media(settings, tmp_path):
    """The default storage in a directory of this test's own."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "saas.storage.TenantFileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    settings.STORAGE_RECONCILE_GRACE_HOURS = 24
    return tmp_path


def _store(schema: str, name: str, *, age: timedelta) -> str:
    with schema_context(schema):
        stored = default_storage.save(name, ContentFile(b"x"))
        path = default_storage.path(stored)
    then = (timezone.now() - age).timestamp()
    os.utime(path, (then, then))
    return stored


def _exists(schema: str, name: str) -> bool:
    with schema_context(schema):
        return default_storage.exists(name)


def test_orphans_past_the_grace_age_go_and_named_files_stay(media, tenant_a, tenant_b):
    a, b = tenant_a.schema, tenant_b.schema
    with schema_context(a):
        attachment = AttachmentFactory()
        os.utime(default_storage.path(attachment.file.name), (0, 0))  # old, but a row names it
        export_name = _store(a, "exports/job.csv", age=48 * HOUR)
        ExportJob.objects.create(
            kind="contacts",
            requested_by_user_id=1,
            requested_by_email="x@example.com",
            requested_by_role="owner",
            status="ready",
            file_name=export_name,
        )
    orphan_old = _store(a, "chat/attachments/9/lost", age=24 * HOUR + timedelta(seconds=1))
    orphan_young = _store(a, "chat/attachments/9/just-written", age=24 * HOUR - timedelta(seconds=1))
    orphan_b = _store(b, "knowledge/1/gone", age=72 * HOUR)

    report = storage_reconcile()
    assert report.removed == 2 and report.young == 1
    assert set(report.orphan_names) == {orphan_old, orphan_b}
    assert not _exists(a, orphan_old) and not _exists(b, orphan_b)
    assert _exists(a, orphan_young)
    assert _exists(a, attachment.file.name) and _exists(a, export_name)
    assert orphan_old.startswith(f"tenants/{a}/")

    again = storage_reconcile()  # a second run changes nothing
    assert again.removed == 0 and again.orphan_names == []
    with schema_context(a):
        assert Attachment.objects.filter(pk=attachment.pk).exists()


def test_a_dry_run_removes_nothing_and_reports_what_it_would(media, tenant_a):
    orphan = _store(tenant_a.schema, "chat/attachments/1/orphan", age=30 * 24 * HOUR)
    out = StringIO()
    call_command("storage_reconcile", "--dry-run", stdout=out)
    assert f"would remove {orphan}" in out.getvalue()
    assert "dry_run=1" in out.getvalue() and "removed=0" in out.getvalue()
    assert _exists(tenant_a.schema, orphan)

    out = StringIO()
    call_command("storage_reconcile", stdout=out)
    assert f"removed {orphan}" in out.getvalue()
    assert not _exists(tenant_a.schema, orphan)


def test_the_files_of_a_schema_that_no_longer_exists_go_once_all_are_old(media, tenant_a):
    dead = "t_deadschemadeadsch"
    old = _store(dead, "chat/attachments/1/a", age=100 * HOUR)
    young = _store(dead, "chat/attachments/1/b", age=HOUR)
    report = storage_reconcile()
    assert report.dead_schemas == 1 and report.young >= 1 and report.dead_schema_files == 0
    assert _exists(dead, old) and _exists(dead, young)

    then = (timezone.now() - 100 * HOUR).timestamp()
    with schema_context(dead):
        os.utime(default_storage.path(young), (then, then))
    assert storage_reconcile(dry_run=True).dead_schema_files == 2
    assert _exists(dead, old)
    report = storage_reconcile()
    assert report.dead_schema_files == 2
    assert not (Path(media) / "tenants" / dead).exists()
    assert (Path(media) / "tenants").exists()


def test_a_run_stopped_half_way_finishes_on_the_next(media, tenant_a, settings, monkeypatch):
    settings.HOUSEKEEPING_BATCH_SIZE = 2
    names = [_store(tenant_a.schema, f"lost/{i}", age=48 * HOUR) for i in range(5)]
    real = reconcile_module._named
    calls = []

    def die_on_second_batch(batch, fields):
        calls.append(batch)
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        return real(batch, fields)

    monkeypatch.setattr(reconcile_module, "_named", die_on_second_batch)
    first = storage_reconcile()
    assert first.removed == 2  # the first batch, then the workspace's turn failed
    assert sum(_exists(tenant_a.schema, n) for n in names) == 3
    monkeypatch.setattr(reconcile_module, "_named", real)
    assert storage_reconcile().removed == 3
    assert not any(_exists(tenant_a.schema, n) for n in names)


def test_the_daily_task_honours_the_dry_run_setting(media, tenant_a, settings):
    orphan = _store(tenant_a.schema, "lost/one", age=48 * HOUR)
    settings.STORAGE_RECONCILE_DRY_RUN = True
    counts = storage_reconcile_task.apply().get()
    assert counts["dry_run"] == 1 and counts["orphans"] >= 1 and counts["removed"] == 0
    assert _exists(tenant_a.schema, orphan)
    settings.STORAGE_RECONCILE_DRY_RUN = False
    assert storage_reconcile_task.apply().get()["removed"] >= 1
    assert not _exists(tenant_a.schema, orphan)


@pytest.fixture
def s3(settings):
    """The default storage on S3 (moto's in-process fake of the API)."""
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="reconcile")
        options = {
            "bucket_name": "reconcile",
            "region_name": "us-east-1",
            "access_key": "test",
            "secret_key": "test",
            "default_acl": None,
            "file_overwrite": False,
        }
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {"BACKEND": "saas.storage.TenantS3Storage", "OPTIONS": options},
        }
        yield client


def test_on_s3_orphans_and_the_prefixes_of_gone_schemas_go(s3, tenant_a):
    with schema_context(tenant_a.schema):
        attachment = AttachmentFactory()
        orphan = default_storage.save("chat/attachments/1/lost", ContentFile(b"x"))
    with schema_context("t_gonegonegonegone"):
        dead = default_storage.save("knowledge/1/doc", ContentFile(b"x"))

    def keys() -> set[str]:
        return {item["Key"] for item in s3.list_objects_v2(Bucket="reconcile").get("Contents", [])}

    first = storage_reconcile()  # everything was just written: within the grace age
    assert (first.orphans, first.young, first.dead_schemas, first.removed) == (1, 2, 1, 0)
    assert keys() == {attachment.file.name, orphan, dead}
    later = timezone.now() + 48 * HOUR
    dry = storage_reconcile(dry_run=True, now=later)
    assert set(dry.orphan_names) == {orphan, dead} and keys() == {attachment.file.name, orphan, dead}
    report = storage_reconcile(now=later)
    assert report.removed == 1 and report.dead_schemas == 1 and report.dead_schema_files == 1
    assert keys() == {attachment.file.name}
    assert storage_reconcile(now=later).orphan_names == []
