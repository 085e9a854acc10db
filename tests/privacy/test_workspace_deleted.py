"""After a workspace is deleted through the real path (owner's schedule, grace period, the
beat job), nothing of it remains: a marker planted in a row of every tenant-schema model
(found by walking the tenant apps' models, so a new model is covered or fails here), in
stored files (attachments, knowledge files, export files) and in cache and rate-limit keys
(visitor state, widget snapshots, host lookups, counters) is looked for in every text and
JSON column of the public schema, the database's schemas, the storage and Redis.

One dedicated workspace (module-scoped) is deleted; the shared session tenants are not.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.conf import settings
from django.core.cache import cache, caches
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone
from django_tenants.utils import schema_context, schema_exists, tenant_context
from pgvector.django import VectorField

from chat.models import Contact
from privacy.tasks import workspaces_delete_due_task
from tenants.models import PlatformAuditEvent, Tenant
from tenants.selectors import tenant_resolve_host, widget_route_resolve
from tenants.services import tenant_delete
from tests.tenants.factories import TenantFactory, UserFactory
from widget_builder.models import Widget
from widget_builder.snapshots import widget_for_key

from .leftovers import cache_holding, files_holding, schemas_named, tables_holding

MARKER = f"GONE{uuid.uuid4().hex[:12].upper()}"


@pytest.fixture(scope="module")
def doomed(django_db_setup, django_db_blocker):
    """A workspace of its own for this module (committed); deleted for real at the end."""
    with django_db_blocker.unblock():
        owner = UserFactory(email=f"doomed-{uuid.uuid4().hex[:6]}@example.com")
        tenant = TenantFactory(slug=f"doomed-{uuid.uuid4().hex[:6]}", name="Doomed Workspace", owner=owner)
        connection.set_schema_to_public()
    yield tenant
    with django_db_blocker.unblock():
        if Tenant.objects.filter(pk=tenant.pk).exists():
            tenant_delete(tenant=Tenant.objects.get(pk=tenant.pk), by=None)
        connection.set_schema_to_public()


def tenant_models() -> list[type[models.Model]]:
    configs = {config.name: config for config in apps.get_app_configs()}
    return [
        model
        for name in settings.TENANT_APPS
        for model in configs[name].get_models()
        if not model._meta.proxy and model._meta.managed
    ]


class Planter:
    """Makes a row of any model with the marker in every text field (related rows made the
    same way); numbers, dates and choices get plain valid values."""

    # Nullable relations a model's check constraint needs set (left empty otherwise).
    NEEDED = {"actions.PendingCall": {"mcp_server"}}  # a server's tool (its name is marked)

    def __init__(self, marker: str) -> None:
        self.marker = marker
        self.n = 0

    def value(self, field: models.Field):
        self.n += 1
        n, marker = self.n, self.marker
        if field.choices:
            return field.choices[0][0]
        if isinstance(field, models.EmailField):
            return f"{marker.lower()}{n}@example.com"
        if isinstance(field, models.URLField):
            return f"https://example.com/{marker}{n}"
        if isinstance(field, models.SlugField):
            return f"{marker.lower()}{n}"[: field.max_length]
        if isinstance(field, models.FileField):
            return ContentFile(f"bytes {marker}".encode(), name=f"{marker}-{n}.txt")
        if isinstance(field, models.CharField | models.TextField):
            return f"{marker} {n}"[: field.max_length or 1000]
        if isinstance(field, models.JSONField):
            return {"marker": marker}
        if isinstance(field, models.BooleanField):
            return False
        if isinstance(field, models.DecimalField):
            return Decimal("0")
        if isinstance(field, models.FloatField):
            return 0.0
        if isinstance(field, models.IntegerField):
            return n
        if isinstance(field, models.DateTimeField):
            return timezone.now()
        if isinstance(field, models.DateField):
            return timezone.now().date() - timedelta(days=n)
        if isinstance(field, models.DurationField):
            return timedelta(0)
        if isinstance(field, models.UUIDField):
            return uuid.uuid4()
        if isinstance(field, models.GenericIPAddressField):
            return "192.0.2.1"
        if isinstance(field, models.BinaryField):
            return marker.encode()
        if isinstance(field, VectorField):
            return None
        return None

    def make(self, model: type[models.Model]) -> models.Model:
        values = {}
        for field in model._meta.concrete_fields:
            if (
                field.primary_key
                or getattr(field, "auto_now", False)
                or getattr(field, "auto_now_add", False)
            ):
                continue
            if field.is_relation:
                if field.null and field.name not in self.NEEDED.get(model._meta.label, ()):
                    continue
                values[field.name] = self.make(field.related_model)
                continue
            texty = isinstance(
                field, models.CharField | models.TextField | models.JSONField | models.FileField
            )
            if (texty and not field.choices) or not (field.has_default() or field.null or field.blank):
                values[field.name] = self.value(field)
        return model._default_manager.create(**values)


@pytest.mark.django_db
def test_a_deleted_workspace_leaves_nothing(doomed):
    tenant = Tenant.objects.get(pk=doomed.pk)
    schema, domains = tenant.schema_name, list(tenant.domains.values_list("domain", flat=True))
    planter, made = Planter(MARKER), {}
    with tenant_context(tenant):
        for model in tenant_models():
            try:
                with transaction.atomic():
                    made[model._meta.label] = planter.make(model)
            except IntegrityError as error:  # a row the generic planter cannot make
                pytest.fail(f"no row of {model._meta.label} could be planted: {error}")
        widget = Widget.objects.order_by("pk").first()
        widget.name = f"{MARKER} widget"
        widget.save(update_fields=["name"])
        widget_for_key(widget.key)  # the widget API's snapshot (cached)
        contact_ids = [str(c) for c in Contact.objects.values_list("public_id", flat=True)]
        cache.set(f"visitor:{contact_ids[0]}", {"name": MARKER}, 600)
        default_storage.save(f"exports/{MARKER}.zip", ContentFile(f"export {MARKER}".encode()))
        keys = list(Widget.objects.values_list("key", flat=True))
    for key in keys:
        widget_route_resolve(key)  # lookups cached in public
        caches["ratelimit"].set(f"chat-widget-messages:{key}:1", 1, 600)
    for domain in domains:
        tenant_resolve_host(domain)
    caches["ratelimit"].set(f"widget-visitor:{contact_ids[0]}:1", 1, 600)

    # Every model has its planted row; the marker is in the schema, the storage, the cache.
    assert set(made) == {m._meta.label for m in tenant_models()}
    assert tables_holding(schema, MARKER)
    prefix = f"tenants/{schema}"
    assert len(files_holding(MARKER, under=prefix)) >= 3  # attachments, knowledge, export
    assert cache_holding(MARKER, *keys, *contact_ids)

    # The rows were planted in this test's transaction: their deferred foreign-key checks
    # run now, as a commit would run them (a DROP refuses tables with pending checks).
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    # The owner's schedule, then the beat job: not before the grace period ends.
    Tenant.objects.filter(pk=tenant.pk).update(delete_after=timezone.now() + timedelta(days=1))
    assert workspaces_delete_due_task.apply().get() == 0
    assert schema_exists(schema)
    Tenant.objects.filter(pk=tenant.pk).update(delete_after=timezone.now() - timedelta(minutes=1))
    assert workspaces_delete_due_task.apply().get() == 1
    assert workspaces_delete_due_task.apply().get() == 0  # twice: harmless

    assert not Tenant.objects.filter(pk=tenant.pk).exists()
    assert schemas_named(schema) == []
    with schema_context("public"):
        assert tables_holding("public", MARKER) == []
        for key in keys:
            assert tables_holding("public", key) == []
    assert files_holding(MARKER) == [] and files_holding(schema) == []
    assert cache_holding(MARKER, *keys, *contact_ids, *domains) == []
    assert PlatformAuditEvent.objects.filter(action="tenant.delete", target_id=str(tenant.pk)).exists()
