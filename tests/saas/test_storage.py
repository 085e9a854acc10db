"""A tenant's storage prefix cannot be climbed out of, on local files or on S3.

Names are normalised before the prefix check: ``../<other schema>/...`` and
``tenants/<ours>/../<other>/...`` are refused (``SuspiciousFileOperation``) for every
operation, and the other tenant's file is untouched.
"""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django_tenants.utils import schema_context, tenant_context
from moto import mock_aws
from storages.utils import clean_name

from saas.storage import TenantFileSystemStorage, TenantS3Storage

pytestmark = pytest.mark.django_db
BUCKET = "prefix-test"


def _escapes(ours: str, theirs: str, name: str) -> list[str]:
    """Names that, before normalisation, looked like ours but lead to ``theirs``'s file."""
    return [
        f"../{theirs}/{name}",
        f"/../{theirs}/{name}",
        f"./../{theirs}/{name}",
        f"notes/../../{theirs}/{name}",
        f"tenants/{ours}/../{theirs}/{name}",
        f"tenants/{ours}/x/../../{theirs}/{name}",
        f"../../tenants/{theirs}/{name}",
        f"../../public/{name}",
    ]


def _operations(storage):
    return {
        "exists": storage.exists,
        "open": storage.open,
        "delete": storage.delete,
        "size": storage.size,
        "url": storage.url,
        "save": lambda n: storage.save(n, ContentFile(b"overwrite")),
    }


@pytest.fixture
def local(tmp_path) -> TenantFileSystemStorage:
    return TenantFileSystemStorage(location=str(tmp_path))


def test_local_names_that_climb_out_of_the_prefix_are_refused(local, tmp_path, tenant_a, tenant_b):
    with tenant_context(tenant_b.tenant):
        kept = local.save("secret.txt", ContentFile(b"MARKER-B"))
    with schema_context("public"):
        public = local.save("secret.txt", ContentFile(b"public"))
    assert (kept, public) == (f"tenants/{tenant_b.schema}/secret.txt", "public/secret.txt")

    with tenant_context(tenant_a.tenant):
        for name in _escapes(tenant_a.schema, tenant_b.schema, "secret.txt"):
            for operation, call in {**_operations(local), "path": local.path}.items():
                with pytest.raises(SuspiciousFileOperation):
                    call(name)
                    pytest.fail(f"{operation}({name!r}) was allowed")
    assert (tmp_path / kept).read_bytes() == b"MARKER-B"
    assert (tmp_path / public).read_bytes() == b"public"


def test_local_names_inside_the_prefix_still_work(local, tmp_path, tenant_a, tenant_b):
    with tenant_context(tenant_a.tenant):
        name = local.save("docs/./guide.txt", ContentFile(b"MARKER-A"))
        assert name == f"tenants/{tenant_a.schema}/docs/guide.txt"
        assert local.exists(f"tenants/{tenant_a.schema}/docs/guide.txt")
        assert local.open("docs/x/../guide.txt").read() == b"MARKER-A"
        # another tenant's prefix without climbing is re-rooted under ours, as before
        assert not local.exists(f"tenants/{tenant_b.schema}/docs/guide.txt")
    assert (tmp_path / "tenants" / tenant_a.schema / "docs" / "guide.txt").exists()


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        storage = TenantS3Storage(
            bucket_name=BUCKET,
            region_name="us-east-1",
            access_key="test",
            secret_key="test",
            default_acl=None,
            file_overwrite=False,
        )
        yield client, storage


def test_s3_names_that_climb_out_of_the_prefix_are_refused(s3, tenant_a, tenant_b):
    client, storage = s3
    with tenant_context(tenant_b.tenant):
        key = storage.save("secret.txt", ContentFile(b"MARKER-B"))
    assert key == f"tenants/{tenant_b.schema}/secret.txt"
    assert client.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"MARKER-B"

    with tenant_context(tenant_a.tenant):
        for name in _escapes(tenant_a.schema, tenant_b.schema, "secret.txt"):
            with pytest.raises(SuspiciousFileOperation):
                storage._normalize_name(name)
            if ".." not in clean_name(name).split("/"):
                # django-storages normalises a name before the prefix is applied to it
                # ("tenants/<ours>/../<theirs>/x" becomes "tenants/<theirs>/x"): re-rooted
                # under ours, it finds nothing
                assert storage._normalize_name(clean_name(name)).startswith(f"tenants/{tenant_a.schema}/")
                assert not storage.exists(name)
                continue
            for operation, call in _operations(storage).items():
                with pytest.raises(SuspiciousFileOperation):
                    call(name)
                    pytest.fail(f"{operation}({name!r}) was allowed")
    keys = [item["Key"] for item in client.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert keys == [key]
    assert client.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"MARKER-B"


def test_s3_names_inside_the_prefix_are_normalised_under_it(s3, tenant_a, tenant_b):
    _client, storage = s3
    with tenant_context(tenant_a.tenant):
        prefix = f"tenants/{tenant_a.schema}"
        assert storage._normalize_name("docs/./drafts/../guide.txt") == f"{prefix}/docs/guide.txt"
        assert storage._normalize_name(f"{prefix}/docs/guide.txt") == f"{prefix}/docs/guide.txt"
        assert (
            storage._normalize_name(f"tenants/{tenant_b.schema}/x") == f"{prefix}/tenants/{tenant_b.schema}/x"
        )
        name = storage.save("docs/./guide.txt", ContentFile(b"MARKER-A"))
        assert storage.open(name).read() == b"MARKER-A"


def test_files_saved_for_a_tenant_land_under_its_own_prefix(tenant_a, tenant_b):
    with tenant_context(tenant_a.tenant):
        name_a = default_storage.save("docs/a.txt", ContentFile(b"MARKER-A"))
    with tenant_context(tenant_b.tenant):
        name_b = default_storage.save("docs/a.txt", ContentFile(b"MARKER-B"))
    try:
        assert name_a.startswith(f"tenants/{tenant_a.schema}/docs/")
        assert name_b.startswith(f"tenants/{tenant_b.schema}/docs/")
        assert (Path(settings.MEDIA_ROOT) / name_a).read_bytes() == b"MARKER-A"
        with tenant_context(tenant_a.tenant):
            assert default_storage.open(name_a).read() == b"MARKER-A"
        with tenant_context(tenant_b.tenant):
            assert default_storage.open(name_b).read() == b"MARKER-B"
    finally:
        with tenant_context(tenant_a.tenant):
            default_storage.delete(name_a)
        with tenant_context(tenant_b.tenant):
            default_storage.delete(name_b)


def test_a_tenant_cannot_reach_another_tenants_file_by_name(tenant_a, tenant_b):
    with tenant_context(tenant_b.tenant):
        name_b = default_storage.save("secret.txt", ContentFile(b"MARKER-B secret"))
    try:
        with tenant_context(tenant_a.tenant):
            assert not default_storage.exists(name_b)
            with pytest.raises(FileNotFoundError):
                default_storage.open(name_b)
            default_storage.delete(name_b)  # re-rooted under A: deletes nothing of B's
        assert (Path(settings.MEDIA_ROOT) / name_b).exists()
    finally:
        with tenant_context(tenant_b.tenant):
            default_storage.delete(name_b)


def test_a_name_cannot_climb_out_of_the_tenant_prefix(tenant_a):
    from django.core.exceptions import SuspiciousFileOperation

    with tenant_context(tenant_a.tenant), pytest.raises(SuspiciousFileOperation):
        default_storage.save("../../etc/passwd", ContentFile(b"x"))
