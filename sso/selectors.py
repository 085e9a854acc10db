"""Reads of single sign-on: a workspace's provider, the provider an address signs in with,
and whether a password session may enter a workspace."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings

from billing.limits import tenant_plan
from saas.crypto import secret_decrypt
from tenants.models import Membership, Tenant

from .models import IdentityProvider


def identity_provider_of(tenant: Tenant) -> IdentityProvider | None:
    """The workspace's provider as configured (enabled or not, whatever the plan)."""
    return IdentityProvider.objects.filter(tenant=tenant).first()


def identity_provider_active(provider: IdentityProvider | None) -> bool:
    """Whether ``provider`` signs people in now: enabled, its workspace active and on a plan
    with single sign-on (a downgrade turns it off without losing the settings)."""
    if provider is None or not provider.enabled:
        return False
    return provider.tenant.status == Tenant.Status.ACTIVE and tenant_plan(provider.tenant).sso


def identity_provider_secret(provider: IdentityProvider) -> str:
    return secret_decrypt(provider.client_secret_encrypted)


def _slug_of(address: str) -> str:
    """ "acme", "acme.<BASE_DOMAIN>", "https://acme.<BASE_DOMAIN>/dashboard/" -> "acme"."""
    host = urlsplit(address if "//" in address else f"//{address}").hostname or ""
    base = (urlsplit(f"//{settings.BASE_DOMAIN}").hostname or "").lower()
    return host.removesuffix(f".{base}") if base else host


def identity_provider_find(address: str) -> IdentityProvider | None:
    """The active provider for what someone typed: a work email (its domain is one of a
    workspace's allowed domains), a workspace address (``acme.<BASE_DOMAIN>``) or a slug."""
    address = address.strip().lower()
    found: IdentityProvider | None
    providers = IdentityProvider.objects.select_related("tenant").filter(enabled=True)
    if "@" in address:
        domain = address.rpartition("@")[2]
        # One domain may be listed by several workspaces; the oldest listing wins.
        found = providers.filter(allowed_domains__contains=[domain]).order_by("created_at").first()
    else:
        found = providers.filter(tenant__slug=_slug_of(address)).first()
    return found if identity_provider_active(found) else None


def password_entry_refused(membership: Membership) -> IdentityProvider | None:
    """The provider whose "require SSO" keeps ``membership`` from entering its workspace
    with a password session, or None. Owners are never refused: their password (behind a
    verified email address) is the way back in when the provider fails."""
    if membership.role == Membership.Role.OWNER:
        return None
    provider = identity_provider_of(membership.tenant)
    if provider is not None and provider.require_sso and identity_provider_active(provider):
        return provider
    return None
