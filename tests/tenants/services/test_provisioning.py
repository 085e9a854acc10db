"""tenants.services.provisioning: tenant_provision from the pool, without it, slug rules,
nothing half-created, and a suspend during a slow provisioning kept."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_exists, tenant_context

from knowledge.models import KnowledgeBase
from tenants import services
from tenants.errors import ProvisioningFailed, SlugInvalid, SlugTaken
from tenants.models import Domain, Membership, SpareSchema, Tenant, User
from tenants.services import provisioning
from tests.tenants.factories import UserFactory
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(db) -> User:
    return UserFactory(email="new-owner@example.com")


def test_provision_claims_a_spare_schema_from_the_pool(owner, client):
    SpareSchema.objects.all().delete()
    services.tenant_pool_refill(size=2)
    oldest = SpareSchema.objects.order_by("id").first().schema_name

    tenant = services.tenant_provision(slug="acme", name="Acme Inc", owner=owner)

    assert tenant.status == Tenant.Status.ACTIVE
    assert tenant.schema_name == oldest
    assert not SpareSchema.objects.filter(schema_name=oldest).exists()
    assert SpareSchema.objects.count() == 1
    assert Domain.objects.get(tenant=tenant).domain == "acme.saas.test"
    assert Membership.objects.get(tenant=tenant).role == Membership.Role.OWNER
    with tenant_context(tenant):
        assert Widget.objects.count() == 1 and KnowledgeBase.objects.count() == 1
    # and the new workspace answers a request at once, reading its own schema
    client.force_login(owner, host="acme.saas.test")
    response = client.get("/dashboard/", HTTP_HOST="acme.saas.test")
    assert response.status_code == 200
    assert b"Acme Inc" in response.content


def test_provision_without_pool_creates_and_migrates_a_schema(owner, client):
    SpareSchema.objects.all().delete()

    tenant = services.tenant_provision(slug="no-pool-co", name="No Pool Co", owner=owner)

    assert tenant.status == Tenant.Status.ACTIVE
    assert tenant.schema_name.startswith("t_") and "no" not in tenant.schema_name[:2]
    assert schema_exists(tenant.schema_name)
    with tenant_context(tenant):  # the workspace starts with its defaults
        assert list(Widget.objects.values_list("name", flat=True)) == ["Website chat"]
        assert list(KnowledgeBase.objects.values_list("name", flat=True)) == ["Main knowledge base"]
    client.force_login(owner, host="no-pool-co.saas.test")
    assert client.get("/dashboard/", HTTP_HOST="no-pool-co.saas.test").status_code == 200


def test_schema_name_is_opaque_not_derived_from_the_slug(owner):
    tenant = services.tenant_provision(slug="secret-project", name="Secret", owner=owner)
    assert "secret" not in tenant.schema_name


def test_provision_schedules_a_pool_refill_after_commit(owner, settings, django_capture_on_commit_callbacks):
    settings.TENANT_POOL_AUTO_REFILL = False
    with django_capture_on_commit_callbacks(execute=False) as without_refill:
        services.tenant_provision(slug="quiet-co", name="Quiet", owner=owner)
    settings.TENANT_POOL_AUTO_REFILL = True
    with django_capture_on_commit_callbacks(execute=False) as with_refill:
        services.tenant_provision(slug="refill-co", name="Refill", owner=owner)
    assert len(with_refill) == len(without_refill) + 1


@pytest.mark.parametrize(
    ("slug", "fragment"),
    [
        ("ab", "at least 3"),
        ("a" * 41, "at most 40"),
        ("1acme", "start with a letter"),
        ("-acme", "start with a letter"),
        ("acme-", "start with a letter"),
        ("ac--me", "single hyphens"),
        ("ac_me", "lowercase letters"),
        ("ac.me", "lowercase letters"),
        ("acmé", "lowercase letters"),
        ("", "at least 3"),
    ],
)
def test_invalid_slugs_are_refused_with_a_field_error(owner, slug, fragment):
    before = Tenant.objects.count()
    with pytest.raises(SlugInvalid) as info:
        services.tenant_provision(slug=slug, name="X", owner=owner)
    problem = info.value.as_problem()
    assert problem["status"] == 422
    assert problem["code"] == "slug_invalid"
    assert fragment in problem["errors"]["slug"][0]["message"]
    assert Tenant.objects.count() == before


@pytest.mark.parametrize("slug", ["www", "api", "admin", "app", "static", "mail", "WWW", " Admin "])
def test_reserved_slugs_are_refused(owner, slug):
    with pytest.raises(SlugInvalid, match="reserved"):
        services.tenant_provision(slug=slug, name="X", owner=owner)


def test_slug_is_normalized_to_lowercase(owner):
    tenant = services.tenant_provision(slug="  MixedCase ", name="Mixed", owner=owner)
    assert tenant.slug == "mixedcase"


def test_taken_slug_is_a_clear_error_and_creates_nothing(owner, tenant_a):
    counts = (Tenant.objects.count(), Domain.objects.count(), Membership.objects.count())
    spares = SpareSchema.objects.count()
    with pytest.raises(SlugTaken) as info:
        services.tenant_provision(slug=tenant_a.tenant.slug.upper(), name="Copy", owner=owner)
    assert info.value.as_problem()["errors"]["slug"][0]["code"] == "slug_taken"
    assert (Tenant.objects.count(), Domain.objects.count(), Membership.objects.count()) == counts
    assert SpareSchema.objects.count() == spares  # no spare consumed


def test_failed_schema_creation_leaves_no_tenant_behind(owner, monkeypatch):
    SpareSchema.objects.all().delete()

    def broken(*, schema_name):
        raise RuntimeError("disk full")

    monkeypatch.setattr(provisioning, "schema_create_migrated", broken)
    with pytest.raises(ProvisioningFailed) as info:
        services.tenant_provision(slug="doomed", name="Doomed", owner=owner)
    assert info.value.status == 503
    assert not Tenant.objects.filter(slug="doomed").exists()
    assert not Domain.objects.filter(domain="doomed.saas.test").exists()
    assert not Membership.objects.filter(user=owner).exists()
    # the slug is free again
    monkeypatch.undo()
    assert services.tenant_provision(slug="doomed", name="Doomed", owner=owner).status == "active"


def test_a_suspend_during_slow_provisioning_is_not_undone(owner, monkeypatch):
    from tenants.models import SpareSchema

    SpareSchema.objects.all().delete()
    real = provisioning.schema_create_migrated

    def create_then_staff_suspends(*, schema_name):
        real(schema_name=schema_name)
        Tenant.objects.filter(schema_name=schema_name).update(status="suspended")

    monkeypatch.setattr(provisioning, "schema_create_migrated", create_then_staff_suspends)
    tenant = services.tenant_provision(slug="raced", name="Raced", owner=owner)
    assert tenant.status == "suspended"
