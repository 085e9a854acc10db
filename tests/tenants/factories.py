"""Factories for the public schema's people and workspaces: users, memberships, invitations,
API keys, domains, verified email addresses, and tenants (provisioned through the service,
or a bare row for the states provisioning passes through)."""

from __future__ import annotations

import secrets

import factory
from allauth.account.models import EmailAddress
from factory.django import DjangoModelFactory

from tenants.models import ApiKey, Domain, Invitation, Membership, Tenant, User, new_schema_name
from tenants.services import tenant_provision
from tenants.services.api_keys import KEY_PREFIX, api_key_hash
from tests.tenants.schema_copies import spare_schema_copy, spare_schema_discard

PASSWORD = "x-long-pass-1"


class UserFactory(DjangoModelFactory):
    """A user who can sign in with ``PASSWORD`` (or the ``password`` given)."""

    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user-{n}@example.com")
    password = PASSWORD

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return model_class.objects.create_user(*args, **kwargs)


class StaffUserFactory(UserFactory):
    """Platform staff: a superuser of the admin on the public host."""

    email = factory.Sequence(lambda n: f"staff-{n}@example.com")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return model_class.objects.create_superuser(*args, **kwargs)


class EmailAddressFactory(DjangoModelFactory):
    """The user's address as allauth records it: verified and primary, so they can sign in."""

    class Meta:
        model = EmailAddress

    user = factory.SubFactory(UserFactory)
    email = factory.SelfAttribute("user.email")
    verified = True
    primary = True


class TenantFactory(DjangoModelFactory):
    """A working workspace, provisioned as signup provisions one (``tenant_provision``: its
    schema, domain, owner membership, default widget and knowledge base). The schema is a
    spare copied from a migrated one (``tests/tenants/schema_copies.py``) once the session
    has one to copy: the fast path, without seconds of migrations per workspace."""

    class Meta:
        model = Tenant

    slug = factory.Sequence(lambda n: f"workspace-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())
    owner = factory.SubFactory(UserFactory)

    @classmethod
    def _create(cls, model_class, *, slug, name, owner):
        copied = spare_schema_copy()
        try:
            return tenant_provision(slug=slug, name=name, owner=owner)
        except BaseException:
            if copied:
                spare_schema_discard(copied)
            raise


class TenantRowFactory(DjangoModelFactory):
    """A tenant row and nothing else (no schema, no domain): a workspace caught mid-way,
    e.g. still provisioning."""

    class Meta:
        model = Tenant

    schema_name = factory.LazyFunction(new_schema_name)
    slug = factory.Sequence(lambda n: f"row-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.title())
    status = Tenant.Status.PROVISIONING


class DomainFactory(DjangoModelFactory):
    class Meta:
        model = Domain

    tenant = factory.SubFactory(TenantRowFactory)
    domain = factory.LazyAttribute(lambda o: f"{o.tenant.slug}.saas.test")
    is_primary = False


class MembershipFactory(DjangoModelFactory):
    """A user's role in a tenant (an agent unless ``role`` says otherwise)."""

    class Meta:
        model = Membership

    tenant = factory.SubFactory(TenantRowFactory)
    user = factory.SubFactory(UserFactory)
    role = Membership.Role.AGENT


class InvitationFactory(DjangoModelFactory):
    class Meta:
        model = Invitation

    tenant = factory.SubFactory(TenantRowFactory)
    email = factory.Sequence(lambda n: f"invitee-{n}@example.com")
    role = Membership.Role.AGENT
    invited_by = None


class ApiKeyFactory(DjangoModelFactory):
    """A tenant's API key; its secret is on the object as ``secret`` (the database keeps only
    its hash, as ``api_key_create`` does)."""

    class Meta:
        model = ApiKey

    tenant = factory.SubFactory(TenantRowFactory)
    name = factory.Sequence(lambda n: f"key-{n}")
    role = ApiKey.Role.ADMIN
    secret = factory.LazyFunction(lambda: KEY_PREFIX + secrets.token_urlsafe(32))
    prefix = factory.LazyAttribute(lambda o: o.secret[:10])
    key_hash = factory.LazyAttribute(lambda o: api_key_hash(o.secret))
    created_by = None

    @classmethod
    def _create(cls, model_class, *args, secret: str, **kwargs):
        key = super()._create(model_class, *args, **kwargs)
        key.secret = secret
        return key
