"""File storage with a per-tenant prefix.

Every name saved while a tenant's schema is active lands under ``tenants/<schema>/``;
work done in the public schema lands under ``public/``. The prefix comes from the
database connection, which the tenant middleware, Celery tasks and ``schema_context``
already set, so no caller can forget it. Schema names are opaque (``t_<random>``),
so a path reveals nothing about the customer.
"""

from __future__ import annotations

import os
import posixpath
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import FileSystemStorage, Storage
from django_tenants.utils import get_public_schema_name
from storages.backends.s3 import S3Storage

from .tenant_connection import connection

if TYPE_CHECKING:
    _StorageMixinBase = Storage  # what the mixin is mixed into
else:
    _StorageMixinBase = object


def tenant_prefix(schema_name: str | None = None) -> str:
    schema = schema_name or connection.schema_name or get_public_schema_name()
    if schema == get_public_schema_name():
        return "public"
    return f"tenants/{schema}"


class TenantStorage(Protocol):
    """What the storages below add to Django's (the default storage is one of them)."""

    def delete_tenant_files(self, schema_name: str) -> None: ...

    def stored_schema_names(self) -> list[str]:
        """The schemas that have a ``tenants/<schema>/`` prefix with files in it."""
        ...


class TenantPrefixMixin(_StorageMixinBase):
    """Applied to names on the way in *and* on every access, so a name that points into
    another tenant's prefix (``tenants/<other>/...``) is re-rooted under the current one
    and finds nothing. Names are normalised first: one that climbs out of the prefix
    (``../<other schema>/...``, ``tenants/<ours>/../<other>/...``) is refused with
    ``SuspiciousFileOperation``, whatever the operation."""

    def _prefixed(self, name: str) -> str:
        prefix = tenant_prefix()
        rooted = name.lstrip("/")
        if rooted != prefix and not rooted.startswith(prefix + "/"):
            rooted = posixpath.join(prefix, rooted)
        normalised = posixpath.normpath(rooted)
        if normalised != prefix and not normalised.startswith(prefix + "/"):
            raise SuspiciousFileOperation(f"The file name {name!r} leaves the workspace's storage.")
        return normalised

    def generate_filename(self, filename: str | os.PathLike[str]) -> str:
        return super().generate_filename(self._prefixed(os.fspath(filename)))

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        return super().get_available_name(self._prefixed(name), max_length=max_length)


class TenantFileSystemStorage(TenantPrefixMixin, FileSystemStorage):
    """Local files under MEDIA_ROOT (the embedded default)."""

    # _open, _save, exists, delete, size and the times all resolve names through path().
    def path(self, name: str) -> str:
        return super().path(self._prefixed(name))

    def url(self, name: str | None) -> str:
        return super().url(self._prefixed(name) if name else name)

    def delete_tenant_files(self, schema_name: str) -> None:
        root = Path(self.location) / tenant_prefix(schema_name)
        shutil.rmtree(root, ignore_errors=True)

    def stored_schema_names(self) -> list[str]:
        root = Path(self.location) / "tenants"
        return sorted(entry.name for entry in root.iterdir() if entry.is_dir()) if root.is_dir() else []


class TenantS3Storage(TenantPrefixMixin, S3Storage):
    """S3 or any S3-compatible store (``AWS_STORAGE_BUCKET_NAME`` and friends)."""

    # Every S3Storage operation resolves its key through _normalize_name().
    def _normalize_name(self, name: str) -> str:
        return super()._normalize_name(self._prefixed(name))

    def delete_tenant_files(self, schema_name: str) -> None:
        prefix = tenant_prefix(schema_name) + "/"
        key_prefix = S3Storage._normalize_name(self, prefix)  # an explicit prefix, not re-rooted
        self.bucket.objects.filter(Prefix=key_prefix).delete()

    def stored_schema_names(self) -> list[str]:
        key_prefix = S3Storage._normalize_name(self, "tenants/")  # an explicit prefix, not re-rooted
        paginator = self.connection.meta.client.get_paginator("list_objects_v2")
        names: set[str] = set()
        for page in paginator.paginate(Bucket=self.bucket_name, Prefix=key_prefix, Delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                names.add(common["Prefix"][len(key_prefix) :].strip("/"))
        return sorted(names)
