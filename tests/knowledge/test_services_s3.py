"""knowledge.services with files on S3: uploaded knowledge files through the real
boto3/django-storages path against a local S3-compatible server (moto in server mode),
under each tenant's prefix."""

from __future__ import annotations

import socket

import boto3
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from knowledge.ingestion import source_ingest
from knowledge.models import Chunk, KnowledgeBase, Source
from knowledge.services import source_add_file, source_delete

pytestmark = pytest.mark.django_db
BUCKET = "knowledge-test"


@pytest.fixture(scope="session")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint, settings, monkeypatch):
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "saas.storage.TenantS3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": s3_endpoint,
                "region_name": "us-east-1",
                "access_key": "test",
                "secret_key": "test",
                "default_acl": None,
                "file_overwrite": False,
            },
        },
    }
    monkeypatch.setattr("knowledge.services.enqueue_on_commit", lambda *a, **k: None)
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def _keys(client) -> list[str]:
    return [item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def test_uploads_land_under_the_tenants_prefix_and_are_deleted_with_their_source(
    s3, tenant_a, tenant_b, django_capture_on_commit_callbacks
):
    text = b"# Returns\n\nMARKER-A-S3 Returns are free within 30 days of delivery.\n"
    with tenant_context(tenant_a.tenant):
        kb = KnowledgeBase.objects.order_by("id").first()
        source = source_add_file(tenant=tenant_a.tenant, kb=kb, upload=SimpleUploadedFile("returns.md", text))
        name = source.file.name
    (key,) = _keys(s3)
    assert key.startswith(f"tenants/{tenant_a.schema}/knowledge/") and "returns" not in key

    with tenant_context(tenant_b.tenant):  # the same name from another tenant finds nothing
        assert not Source._meta.get_field("file").storage.exists(name)

    with tenant_context(tenant_a.tenant):
        report = source_ingest(source.pk)
        assert report["added"] == 1
        assert Chunk.objects.filter(source=source, text__contains="MARKER-A-S3").exists()
        with django_capture_on_commit_callbacks(execute=True):
            source_delete(source=Source.objects.get(pk=source.pk))
        assert not Chunk.objects.filter(source_id=source.pk).exists()
    assert _keys(s3) == []
