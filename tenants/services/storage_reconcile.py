"""Files in storage that no row points to, removed (or, in a dry run, reported).

Every stored file lives under its schema's prefix (``saas.storage``: ``tenants/<schema>/``
or ``public/``). For each workspace (and the public schema) the prefix is walked and each
file looked up among the rows of that schema that name files: every ``FileField`` of the
models migrated there (found through ``apps.get_models()``) and the name fields the apps
declare (``Contributions.stored_file_names``, e.g. an export's file). A file no row names
and older than STORAGE_RECONCILE_GRACE_HOURS is removed; younger ones are left, since a
file is written just before the row that names it commits. Prefixes of schemas that no
longer exist (no workspace, no spare, no schema in the database) go whole, once none of
their files is younger than the grace age. Files are looked up a batch at a time (one
query per batch and model), so memory stays flat whatever the number of files.

Runs in the default storage only (every ``FileField`` of the project uses it).
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import cast

from django.apps import apps
from django.conf import settings
from django.core.files.storage import Storage, default_storage
from django.db import connection as db_connection
from django.db import models
from django.utils import timezone
from django_tenants.utils import app_labels, get_public_schema_name, schema_context

from saas.storage import TenantStorage

from ..contributions import contributions
from ..models import SpareSchema, Tenant

logger = logging.getLogger(__name__)

NameField = tuple[type[models.Model], str]


@dataclass
class ReconcileReport:
    """What a run found (``orphans``) and did (``removed``; nothing in a dry run)."""

    dry_run: bool = False
    schemas: int = 0
    files: int = 0
    orphans: int = 0
    removed: int = 0
    young: int = 0  # orphans within the grace age, left for a later run
    dead_schemas: int = 0
    dead_schema_files: int = 0
    orphan_names: list[str] = field(default_factory=list)

    def as_counts(self) -> dict[str, int]:
        counts = asdict(self)
        counts.pop("orphan_names")
        counts["dry_run"] = int(self.dry_run)
        return counts


def _walk(storage: Storage, path: str = "") -> Iterator[str]:
    try:
        directories, files = storage.listdir(path)
    except FileNotFoundError:
        return
    for name in sorted(files):
        yield posixpath.join(path, name)
    for directory in sorted(directories):
        yield from _walk(storage, posixpath.join(path, directory))


def _name_fields(schema: str) -> list[NameField]:
    """The (model, field) pairs naming stored files among the models migrated into ``schema``."""
    public = schema == get_public_schema_name()
    labels = set(app_labels(settings.SHARED_APPS if public else settings.TENANT_APPS))
    found: list[NameField] = [
        (model, f.name)
        for model in apps.get_models()
        if model._meta.app_label in labels and not model._meta.proxy
        for f in model._meta.get_fields()
        if isinstance(f, models.FileField)
    ]
    declared = contributions().stored_file_names.values()
    found += [(model, name) for model, name in declared if model._meta.app_label in labels]
    return found


def _named(batch: list[str], fields: list[NameField]) -> set[str]:
    """Which of ``batch`` (full storage names, prefixed) some row names, in this schema."""
    named: set[str] = set()
    for model, name in fields:
        named.update(model._default_manager.filter(**{f"{name}__in": batch}).values_list(name, flat=True))
    return named


def _older_than(storage: Storage, name: str, cutoff: datetime) -> bool:
    try:
        return storage.get_modified_time(name) < cutoff
    except FileNotFoundError:  # gone meanwhile
        return False


def _reconcile_schema(schema: str, report: ReconcileReport, *, cutoff: datetime, batch: int) -> None:
    storage = cast("_PrefixedStorage", default_storage)
    with schema_context(schema):
        fields = _name_fields(schema)
        names = _walk(storage)
        while chunk := [storage._prefixed(name) for _, name in zip(range(batch), names, strict=False)]:
            report.files += len(chunk)
            for name in sorted(set(chunk) - _named(chunk, fields)):
                report.orphans += 1
                if not _older_than(storage, name, cutoff):
                    report.young += 1
                    continue
                report.orphan_names.append(name)
                if not report.dry_run:
                    storage.delete(name)
                    report.removed += 1
            logger.debug("storage reconcile: %s, %d files looked up", schema, len(chunk))


def _dead_schemas(stored: list[str]) -> list[str]:
    known = set(Tenant.objects.filter(schema_name__in=stored).values_list("schema_name", flat=True))
    known |= set(SpareSchema.objects.filter(schema_name__in=stored).values_list("schema_name", flat=True))
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", [stored])
        known |= {row[0] for row in cursor.fetchall()}
    return [schema for schema in stored if schema not in known]


def _reconcile_dead(schema: str, report: ReconcileReport, *, cutoff: datetime) -> None:
    storage = cast("_PrefixedStorage", default_storage)
    with schema_context(schema):  # only the storage prefix follows it: no query runs here
        names = [storage._prefixed(name) for name in _walk(storage)]
        young = [name for name in names if not _older_than(storage, name, cutoff)]
    report.dead_schemas += 1
    if young:
        report.young += len(young)
        return
    report.dead_schema_files += len(names)
    report.orphan_names += names
    if not report.dry_run:
        cast("TenantStorage", default_storage).delete_tenant_files(schema)


class _PrefixedStorage(Storage):
    """The default storage as saas.storage makes it: names re-rooted under the schema's prefix."""

    def _prefixed(self, name: str) -> str:
        raise NotImplementedError


def storage_reconcile(*, dry_run: bool = False, now: datetime | None = None) -> ReconcileReport:
    """Remove (or only report, ``dry_run``) the stored files no row points to, older than
    the grace age, per workspace prefix and for the prefixes of schemas that are gone.
    Idempotent; a run stopped half-way leaves the rest for the next."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.STORAGE_RECONCILE_GRACE_HOURS)
    batch = settings.HOUSEKEEPING_BATCH_SIZE
    report = ReconcileReport(dry_run=dry_run)
    serving = (Tenant.Status.ACTIVE, Tenant.Status.SUSPENDED)
    with schema_context(get_public_schema_name()):
        schemas = list(Tenant.objects.filter(status__in=serving).values_list("schema_name", flat=True))
        dead = _dead_schemas(cast("TenantStorage", default_storage).stored_schema_names())
    for schema in [get_public_schema_name(), *sorted(schemas)]:
        try:
            _reconcile_schema(schema, report, cutoff=cutoff, batch=batch)
        except Exception:
            logger.exception("storage reconcile failed in %s", schema)
            continue
        report.schemas += 1
    for schema in dead:
        _reconcile_dead(schema, report, cutoff=cutoff)
    return report
