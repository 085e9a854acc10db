"""Writes of single sign-on: a workspace's provider settings, and completing a sign-in
through it (the person matched to a member, or made one just in time).

Sign-in through a workspace's provider opens that workspace only: it never signs anyone in
on the public host, so a provider can vouch for people in its own workspace and nowhere
else (docs/sso.md).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django_tenants.utils import schema_context

from audit.services import audit_record
from billing.limits import tenant_plan
from billing.plans import plan_upgrade_for_feature
from saas.crypto import secret_encrypt, secret_rotate
from saas.errors import ValidationFailed
from tenants.limits import quota_require
from tenants.models import LoginHandoff, Membership, Tenant, User

from . import oidc
from .errors import SsoAccessDenied, SsoNotInPlan, SsoProviderUnavailable, SsoStateInvalid
from .models import IdentityProvider
from .selectors import identity_provider_active, identity_provider_secret

FLOW_SESSION_KEY = "sso_flows"
MAX_FLOWS = 5  # sign-ins started in one browser and not finished yet
DEFAULT_ROLE = Membership.Role.AGENT  # just-in-time members start with the least access


# Addresses anyone can open: a workspace listing one of these would let in strangers.
PUBLIC_EMAIL_DOMAINS = frozenset(
    {
        "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com",
        "yahoo.com", "ymail.com", "icloud.com", "me.com", "mac.com", "aol.com", "proton.me",
        "protonmail.com", "pm.me", "gmx.com", "gmx.net", "gmx.de", "web.de", "mail.com",
        "mail.ru", "yandex.ru", "yandex.com", "zoho.com", "qq.com", "163.com", "126.com",
        "hey.com", "fastmail.com", "tutanota.com",
    }
)  # fmt: skip


def _field_error(field: str, code: str, message: str) -> ValidationFailed:
    return ValidationFailed(errors={field: [{"code": code, "message": message}]})


def _domains_clean(domains: list[str]) -> list[str]:
    cleaned: list[str] = []
    for raw in domains:
        domain = raw.strip().lower().lstrip("@")
        if not domain:
            continue
        labels = domain.split(".")
        if len(labels) < 2 or not all(label and label.replace("-", "").isalnum() for label in labels):
            raise _field_error("allowed_domains", "invalid", f"“{raw.strip()}” is not a domain name.")
        if domain in PUBLIC_EMAIL_DOMAINS:
            message = f"{domain} is a public email service: anyone can have an address there."
            raise _field_error("allowed_domains", "public_domain", message)
        if domain not in cleaned:
            cleaned.append(domain)
    return cleaned


def identity_provider_save(
    *,
    tenant: Tenant,
    request: HttpRequest | None,
    issuer: str,
    client_id: str,
    client_secret: str,
    allowed_domains: list[str],
    require_sso: bool,
    enabled: bool,
) -> IdentityProvider:
    """Create or change the workspace's provider. Refused (SsoNotInPlan) on a plan without
    single sign-on. A blank ``client_secret`` keeps the stored one. A new issuer's discovery
    document is read first, so a wrong issuer is a field error, not a failed sign-in later.
    Runs in the workspace's schema (the audit event lands there)."""
    plan = tenant_plan(tenant)
    if not plan.sso:
        upgrade = plan_upgrade_for_feature("sso")
        raise SsoNotInPlan(f"Single sign-on comes with the {upgrade.name} plan and above.")
    issuer = issuer.strip()
    domains = _domains_clean(allowed_domains)
    existing = IdentityProvider.objects.filter(tenant=tenant).first()
    if existing is None and not client_secret:
        raise _field_error("client_secret", "required", "Enter the client secret.")
    if existing is None or existing.issuer != issuer:
        # Only a new issuer is checked and read: turning sign-in or "require SSO" off must
        # work while the provider is down.
        if not oidc.url_allowed(issuer):
            raise _field_error("issuer", "invalid", "The issuer must be an https:// address.")
        try:
            oidc.discover(issuer)
        except SsoProviderUnavailable as error:
            raise _field_error("issuer", "discovery_failed", error.detail) from error

    values: dict[str, Any] = {
        "issuer": issuer,
        "client_id": client_id.strip(),
        "allowed_domains": domains,
        "require_sso": require_sso,
        "enabled": enabled,
    }
    with transaction.atomic():
        if existing is None:
            provider = IdentityProvider.objects.create(
                tenant=tenant, client_secret_encrypted=secret_encrypt(client_secret), **values
            )
            changed = [*values, "client_secret"]
        else:
            provider = IdentityProvider.objects.select_for_update().get(pk=existing.pk)
            changed = [name for name, value in values.items() if getattr(provider, name) != value]
            for name in changed:
                setattr(provider, name, values[name])
            fields = list(changed)
            if client_secret:
                provider.client_secret_encrypted = secret_encrypt(client_secret)
                changed.append("client_secret")
                fields.append("client_secret_encrypted")
            provider.updated_at = timezone.now()
            provider.save(update_fields=[*fields, "updated_at"])
        ended = _member_sessions_end(tenant) if "require_sso" in changed and require_sso else 0
        if changed:
            audit_record(
                action="sso.configured" if existing is None else "sso.settings_changed",
                request=request,
                target=provider,
                target_repr=provider.issuer,
                metadata={
                    "changed": sorted(changed),
                    "enabled": enabled,
                    "require_sso": require_sso,
                    "sessions_ended": ended,
                },
            )
    return provider


def _member_sessions_end(tenant: Tenant) -> int:
    """End the workspace-host sessions of every member but the owners (after the commit):
    once SSO is required, admins and agents come back through the provider. How many."""
    others = Membership.objects.filter(tenant=tenant).exclude(role=Membership.Role.OWNER).values("user_id")
    keys = set(
        LoginHandoff.objects.filter(tenant=tenant, user_id__in=others)
        .exclude(tenant_session_key="")
        .values_list("tenant_session_key", flat=True)
    )
    store = import_module(settings.SESSION_ENGINE).SessionStore

    def end() -> None:
        for key in keys:
            store(session_key=key).delete()

    transaction.on_commit(end)
    return len(keys)


def identity_provider_secrets_rotate() -> int:
    """Re-encrypt every workspace's client secret under the current master key
    (``manage.py rotate_secrets``); returns how many were rotated. Public schema."""
    rotated = 0
    with transaction.atomic():
        for provider in IdentityProvider.objects.select_for_update().exclude(client_secret_encrypted=""):
            provider.client_secret_encrypted = secret_rotate(provider.client_secret_encrypted)
            provider.save(update_fields=["client_secret_encrypted"])
            rotated += 1
    return rotated


def identity_provider_delete(*, tenant: Tenant, request: HttpRequest | None) -> bool:
    """Forget the workspace's provider (members sign in with their passwords again)."""
    with transaction.atomic():
        provider = IdentityProvider.objects.select_for_update().filter(tenant=tenant).first()
        if provider is None:
            return False
        audit_record(action="sso.removed", request=request, target=provider, target_repr=provider.issuer)
        provider.delete()
    return True


@dataclass(frozen=True)
class SignInStart:
    url: str  # where the browser goes: the provider's authorization endpoint
    state: str


def sso_sign_in_start(
    *, provider: IdentityProvider, session: Any, redirect_uri: str, login_hint: str = ""
) -> SignInStart:
    """Begin a sign-in: state, nonce and PKCE verifier kept in the browser's session (a few
    at a time, each for SSO_FLOW_SECONDS), the provider's authorization URL returned."""
    endpoints = oidc.discover(provider.issuer)
    pkce = oidc.pkce_new()
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    flows = dict(session.get(FLOW_SESSION_KEY) or {})
    while len(flows) >= MAX_FLOWS:
        flows.pop(min(flows, key=lambda key: flows[key]["at"]))
    flows[state] = {
        "provider": provider.pk,
        "nonce": nonce,
        "verifier": pkce.verifier,
        "redirect_uri": redirect_uri,
        "at": timezone.now().timestamp(),
    }
    session[FLOW_SESSION_KEY] = flows
    url = oidc.authorization_url(
        endpoints,
        client_id=provider.client_id,
        redirect_uri=redirect_uri,
        state=state,
        nonce=nonce,
        challenge=pkce.challenge,
        login_hint=login_hint,
    )
    return SignInStart(url=url, state=state)


def sso_flow_take(*, session: Any, state: str, max_age_seconds: int) -> dict[str, Any]:
    """The sign-in ``state`` names, removed from the session (a state works once)."""
    flows = dict(session.get(FLOW_SESSION_KEY) or {})
    flow = flows.pop(state, None) if state else None
    session[FLOW_SESSION_KEY] = flows
    if not isinstance(flow, dict) or timezone.now().timestamp() - flow["at"] > max_age_seconds:
        raise SsoStateInvalid("Start the sign-in again from the sign-in page.")
    return flow


def sso_sign_in_complete(*, flow: dict[str, Any], code: str, request: HttpRequest | None) -> Membership:
    """Finish a sign-in: the code traded for an ID token, every check of the token, then the
    person matched to a member of the provider's workspace by email address — or made a
    member (role agent) when the address is in one of the allowed domains and the seats allow.
    """
    provider = IdentityProvider.objects.select_related("tenant").filter(pk=flow["provider"]).first()
    if provider is None or not identity_provider_active(provider):
        raise SsoAccessDenied("Single sign-on is no longer set up for this workspace.")
    endpoints = oidc.discover(provider.issuer)
    id_token = oidc.code_exchange(
        endpoints,
        client_id=provider.client_id,
        client_secret=identity_provider_secret(provider),
        code=code,
        redirect_uri=flow["redirect_uri"],
        verifier=flow["verifier"],
    )
    claims = oidc.id_token_verify(
        id_token,
        provider=endpoints,
        issuer=provider.issuer,
        client_id=provider.client_id,
        nonce=flow["nonce"],
    )
    email = str(claims.get("email") or "").strip().lower()
    if not email or claims.get("email_verified") is False:
        raise SsoAccessDenied("The provider did not vouch for an email address.")
    return _member_for(provider=provider, email=email, request=request)


def _member_for(*, provider: IdentityProvider, email: str, request: HttpRequest | None) -> Membership:
    tenant = provider.tenant
    existing = (
        Membership.objects.select_related("tenant", "user")
        .filter(tenant=tenant, user__email__iexact=email, user__is_active=True)
        .first()
    )
    if existing is not None:
        return existing
    if email.rpartition("@")[2] not in provider.allowed_domains:
        raise SsoAccessDenied(f"{email} is not a member of this workspace. Ask an owner to invite you.")
    with transaction.atomic():
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            user = User.objects.create_user(email=email, password=None)
        elif not user.is_active:
            raise SsoAccessDenied("This account is disabled.")
        quota_require(tenant, "seats", used=Membership.objects.filter(tenant=tenant).count)
        membership, _ = Membership.objects.get_or_create(
            tenant=tenant, user=user, defaults={"role": DEFAULT_ROLE}
        )
        with schema_context(tenant.schema_name):
            audit_record(
                action="member.joined_by_sso",
                request=request,
                actor=user,
                target=membership,
                target_repr=email,
                metadata={"role": membership.role, "issuer": provider.issuer},
            )
        # The workspace's provider vouches for the address in its own workspace only: the
        # address stays unverified for the public host (a password reset verifies it).
        if not EmailAddress.objects.filter(user=user, email__iexact=email).exists():
            EmailAddress.objects.create(user=user, email=email, verified=False, primary=True)
    return membership
