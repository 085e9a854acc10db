"""Writes for the tenant lifecycle: provisioning, the spare-schema pool, suspend and delete,
moving sessions between hosts, the audit log.

The public ones enter the public schema themselves (they manage schemas; they do not live
in one), so a caller that is still inside a tenant's schema cannot misplace their rows.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import secrets
from collections.abc import Callable
from datetime import timedelta
from importlib import import_module
from typing import Any, ParamSpec, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context

from saas.tenant_cache import cache_forget_schema

from ..errors import ProvisioningFailed, SlugTaken
from ..initializers import workspace_initialize
from ..models import (
    TENANT_SCHEMA_RE,
    Domain,
    LoginHandoff,
    Membership,
    PlatformAuditEvent,
    SpareSchema,
    Tenant,
    User,
    new_schema_name,
)
from ..selectors import slug_availability, tenant_host_cache_forget, widget_route_cache_forget

logger = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

POOL_REFILL_LOCK = "tenants:pool-refill-lock"


def in_public_schema(func: Callable[P, R]) -> Callable[P, R]:
    """Run ``func`` in the public schema and restore the caller's schema afterwards."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with schema_context(get_public_schema_name()):
            return func(*args, **kwargs)

    return wrapper


# --- schemas ------------------------------------------------------------------------------


def _quote(schema_name: str) -> str:
    """Quote a generated tenant schema name; anything else is refused before any DDL."""
    if not TENANT_SCHEMA_RE.fullmatch(schema_name):
        raise ValueError(f"refusing to use schema name {schema_name!r}")
    return connection.ops.quote_name(schema_name)


def schema_create_migrated(*, schema_name: str) -> None:
    """Create ``schema_name`` and run every tenant migration in it.

    Precondition: called inside ``transaction.atomic``, so a failure leaves no half-built
    schema behind (PostgreSQL DDL is transactional) and django-tenants keeps the connection.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("schema_create_migrated must run inside transaction.atomic")
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {_quote(schema_name)}")
    call_command("migrate_schemas", tenant=True, schema_name=schema_name, interactive=False, verbosity=0)
    connection.set_schema_to_public()


def schema_drop(*, schema_name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {_quote(schema_name)} CASCADE")


# --- the spare-schema pool ------------------------------------------------------------------


@in_public_schema
def tenant_pool_refill(*, size: int | None = None) -> int:
    """Create spare schemas until the pool holds ``size`` (default ``TENANT_POOL_SIZE``).

    Each spare is created and recorded in one transaction, so a crash mid-way leaves
    nothing to clean up. A cache lock keeps concurrent refills from overshooting; an
    overshoot would only cost an extra spare. Returns how many spares were created.
    """
    target = settings.TENANT_POOL_SIZE if size is None else size
    if not cache.add(POOL_REFILL_LOCK, "1", timeout=600):
        return 0
    created = 0
    try:
        while SpareSchema.objects.count() < target:
            schema_name = new_schema_name()
            with transaction.atomic():
                schema_create_migrated(schema_name=schema_name)
                SpareSchema.objects.create(schema_name=schema_name)
            created += 1
    finally:
        cache.delete(POOL_REFILL_LOCK)
    if created:
        logger.info("tenant pool refilled with %d spare schema(s)", created)
    return created


@in_public_schema
def tenant_provisioning_reap(*, older_than_s: int = 600) -> int:
    """Delete tenants stuck in ``provisioning`` (their process died mid-way).

    A healthy slow-path provisioning takes about a second, so anything older than
    ``older_than_s`` is dead: its half-created schema is dropped and the slug freed.
    """
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    stuck = list(Tenant.objects.filter(status=Tenant.Status.PROVISIONING, created_at__lt=cutoff))
    for tenant in stuck:
        logger.warning("reaping tenant %s stuck in provisioning since %s", tenant.pk, tenant.created_at)
        with transaction.atomic():
            schema_drop(schema_name=tenant.schema_name)
            Tenant.objects.filter(pk=tenant.pk, status=Tenant.Status.PROVISIONING).delete()
        _forget_hosts(tenant)
    return len(stuck)


def _pool_claim() -> str | None:
    """Take one spare schema inside the caller's transaction, or None if the pool is empty."""
    spare = SpareSchema.objects.select_for_update(skip_locked=True).order_by("id").first()
    if spare is None:
        return None
    spare.delete()
    return spare.schema_name


def _pool_refill_soon() -> None:
    if not settings.TENANT_POOL_AUTO_REFILL:
        return
    from saas.celery import enqueue_on_commit

    from ..tasks import tenant_pool_refill as refill_task

    enqueue_on_commit(refill_task)


# --- lifecycle ------------------------------------------------------------------------------


@in_public_schema
def tenant_provision(*, slug: str, name: str, owner: User) -> Tenant:
    """Create a workspace for ``owner`` at ``<slug>.<BASE_DOMAIN>`` and return it active.

    Fast path: claim a spare, migrated schema from the pool in one short transaction.
    Slow path (pool empty): reserve the slug with a ``provisioning`` tenant, migrate a new
    schema, then activate; on failure nothing is left behind. Either way the pool is
    refilled in the background afterwards.

    Raises ``SlugInvalid`` or ``SlugTaken`` (validation problems naming the ``slug`` field)
    and ``ProvisioningFailed``.
    """
    slug = slug_availability(slug)
    name = (name or "").strip()[:120] or slug
    domain = f"{slug}.{settings.BASE_DOMAIN}"

    try:
        with transaction.atomic():
            schema_name = _pool_claim()
            tenant = _tenant_rows_create(
                slug=slug,
                name=name,
                owner=owner,
                domain=domain,
                schema_name=schema_name or new_schema_name(),
                status=Tenant.Status.ACTIVE if schema_name else Tenant.Status.PROVISIONING,
            )
            if schema_name:
                workspace_initialize(tenant=tenant, owner=owner)
    except IntegrityError as exc:  # lost a race for the slug
        raise _slug_taken() from exc

    if tenant.status == Tenant.Status.PROVISIONING:
        try:
            with transaction.atomic():
                schema_create_migrated(schema_name=tenant.schema_name)
                workspace_initialize(tenant=tenant, owner=owner)
                # Conditional: staff may have suspended it meanwhile; that decision stands.
                Tenant.objects.filter(pk=tenant.pk, status=Tenant.Status.PROVISIONING).update(
                    status=Tenant.Status.ACTIVE, updated_at=timezone.now()
                )
            tenant.refresh_from_db(fields=["status", "updated_at"])
        except Exception as exc:
            logger.exception("provisioning schema for tenant %s failed", tenant.pk)
            Tenant.objects.filter(pk=tenant.pk).delete()
            raise ProvisioningFailed("Please try again in a minute.") from exc

    tenant_host_cache_forget(domain)
    _pool_refill_soon()
    return tenant


def _slug_taken() -> SlugTaken:
    message = "This subdomain is already taken."
    return SlugTaken(message, errors={"slug": [{"code": "slug_taken", "message": message}]})


def _tenant_rows_create(
    *, slug: str, name: str, owner: User, domain: str, schema_name: str, status: str
) -> Tenant:
    tenant = Tenant(schema_name=schema_name, slug=slug, name=name, status=status)
    tenant.save()
    Domain.objects.create(domain=domain, tenant=tenant, is_primary=True)
    Membership.objects.create(tenant=tenant, user=owner, role=Membership.Role.OWNER)
    return tenant


@in_public_schema
def tenant_suspend(*, tenant: Tenant, by: User | None, reason: str = "", ip: str | None = None) -> Tenant:
    """Stop serving the tenant's dashboard and widgets. Nothing is deleted."""
    with transaction.atomic():
        tenant.status = Tenant.Status.SUSPENDED
        tenant.suspended_reason = reason[:255]
        tenant.save(update_fields=["status", "suspended_reason", "updated_at"])
        audit_event_record(
            actor=by, action="tenant.suspend", target=tenant, metadata={"reason": reason}, ip=ip
        )
    _forget_hosts(tenant)
    return tenant


@in_public_schema
def tenant_reactivate(*, tenant: Tenant, by: User | None, ip: str | None = None) -> Tenant:
    with transaction.atomic():
        tenant.status = Tenant.Status.ACTIVE
        tenant.suspended_reason = ""
        tenant.save(update_fields=["status", "suspended_reason", "updated_at"])
        audit_event_record(actor=by, action="tenant.reactivate", target=tenant, ip=ip)
    _forget_hosts(tenant)
    return tenant


@in_public_schema
def tenant_delete(*, tenant: Tenant, by: User | None, ip: str | None = None) -> None:
    """Delete the tenant for good: its schema, stored files, cache entries and public rows.

    The tenant first turns ``deleting`` (committed), so it stops serving at once even if
    a later step fails; running this again finishes the job.
    """
    with transaction.atomic():
        tenant.status = Tenant.Status.DELETING
        tenant.save(update_fields=["status", "updated_at"])
        # Recorded with the status change, so a delete that fails half-way still has a trace.
        audit_event_record(actor=by, action="tenant.delete_requested", target=tenant, ip=ip)
    _forget_hosts(tenant)
    schema_name, pk, label = tenant.schema_name, tenant.pk, str(tenant)

    default_storage.delete_tenant_files(schema_name)  # type: ignore[attr-defined]
    cache_forget_schema(schema_name)
    with transaction.atomic():
        schema_drop(schema_name=schema_name)
        Tenant.objects.filter(pk=pk).delete()  # cascades to domains and memberships
        audit_event_record(
            actor=by,
            action="tenant.delete",
            target_type="tenant",
            target_id=str(pk),
            target_repr=label,
            metadata={"schema_name": schema_name},
            ip=ip,
        )


def _forget_hosts(tenant: Tenant) -> None:
    """Forget every cached way of reaching the tenant: its hosts and its widget keys."""
    for domain in tenant.domains.values_list("domain", flat=True):
        tenant_host_cache_forget(domain)
    for key in tenant.widget_routes.values_list("key", flat=True):
        widget_route_cache_forget(key)


# --- moving a signed-in user between hosts --------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@in_public_schema
def login_handoff_create(*, user: User, tenant: Tenant, public_session_key: str) -> str:
    """A one-time token that signs ``user`` in on ``tenant``'s host. Only its hash is stored.

    Precondition: the caller checked that ``user`` is a member of ``tenant``.
    """
    token = secrets.token_urlsafe(32)
    LoginHandoff.objects.create(
        token_hash=_token_hash(token),
        user=user,
        tenant=tenant,
        public_session_key=public_session_key or "",
        expires_at=timezone.now() + timedelta(seconds=settings.LOGIN_HANDOFF_SECONDS),
    )
    return token


@in_public_schema
def login_handoff_consume(*, token: str, tenant: Tenant) -> LoginHandoff | None:
    """Spend the token on ``tenant``'s host: the handoff if valid, unused, unexpired, for
    this tenant, and its user still an active member; otherwise None. Single use even
    under concurrent attempts (one conditional UPDATE wins)."""
    token_hash = _token_hash(token or "")
    now = timezone.now()
    spent = LoginHandoff.objects.filter(
        token_hash=token_hash, tenant=tenant, used_at__isnull=True, expires_at__gt=now
    ).update(used_at=now)
    if not spent:
        return None
    handoff = LoginHandoff.objects.select_related("user").get(token_hash=token_hash)
    if not handoff.user.is_active or not Membership.objects.filter(tenant=tenant, user=handoff.user).exists():
        return None
    return handoff


@in_public_schema
def login_handoff_link_session(*, handoff: LoginHandoff, tenant_session_key: str) -> None:
    handoff.tenant_session_key = tenant_session_key
    handoff.save(update_fields=["tenant_session_key"])


@in_public_schema
def login_handoff_purge() -> int:
    """Forget hand-offs nobody can use any more: unspent ones past expiry, and spent ones
    older than the longest session they could link (SESSION_COOKIE_AGE)."""
    now = timezone.now()
    stale = models.Q(used_at__isnull=True, expires_at__lt=now - timedelta(hours=1)) | models.Q(
        used_at__lt=now - timedelta(seconds=settings.SESSION_COOKIE_AGE)
    )
    deleted, _ = LoginHandoff.objects.filter(stale).delete()
    return deleted


@in_public_schema
def sessions_end_linked(*, session_key: str | None) -> int:
    """End every session linked to ``session_key`` through a handoff (public <-> tenant).

    Signing out on a tenant host ends the public session it came from (and that session's
    other tenant sessions); signing out on the public host ends the tenant sessions it
    opened. Returns how many sessions were ended.
    """
    if not session_key:
        return 0
    handoffs = LoginHandoff.objects.filter(
        models.Q(public_session_key=session_key) | models.Q(tenant_session_key=session_key)
    )
    public_keys = {h.public_session_key for h in handoffs if h.public_session_key}
    linked = LoginHandoff.objects.filter(public_session_key__in=public_keys)
    keys = public_keys | {h.tenant_session_key for h in linked if h.tenant_session_key}
    keys.discard(session_key)  # the caller ends its own session
    store = import_module(settings.SESSION_ENGINE).SessionStore
    for key in keys:
        store(session_key=key).delete()
    return len(keys)


# --- audit ----------------------------------------------------------------------------------


@in_public_schema
def audit_event_record(
    *,
    actor: User | None,
    action: str,
    target: Any = None,
    target_type: str = "",
    target_id: str = "",
    target_repr: str = "",
    metadata: dict | None = None,
    ip: str | None = None,
) -> PlatformAuditEvent:
    """Append one event to the platform audit log (never updated afterwards)."""
    if target is not None:
        target_type = target_type or target._meta.model_name
        target_id = target_id or str(target.pk)
        target_repr = target_repr or str(target)
    return PlatformAuditEvent.objects.create(
        actor_id=getattr(actor, "pk", None),
        actor_email=getattr(actor, "email", "") or "",
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_repr=target_repr[:255],
        metadata=metadata or {},
        ip_address=ip,
    )
