"""The workspace's own data: its export (a ZIP job of the ``exports`` app) and its
self-serve deletion by an owner.

Deletion timeline (docs/privacy.md): an owner asks on the Settings page → an email to them
with a signed link (``PRIVACY_DELETION_LINK_HOURS``) → opened while signed in as that
owner, the workspace is scheduled: ``Tenant.delete_after`` = now +
``PRIVACY_DELETION_GRACE_DAYS``, a banner on every page, "Undo" for owners, every owner
emailed → the hourly beat job (``workspaces_delete_due``) deletes what is due through
``tenants.services.tenant_delete`` (schema, stored files, cache entries, public rows), then
forgets what the tenant's keyspace does not hold (rate-limit counters naming its widgets
and visitors, host and widget-key lookups cached in public) and emails the owners.

The tenant row is in the public schema; the workspace audit log is in the tenant's, so the
request, confirmation and undo services run on a tenant host's request (its schema active).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context, schema_exists

from audit.services import audit_record
from chat.models import Contact
from exports.models import ExportJob
from exports.services import export_job_create
from saas.errors import Conflict, PermissionDenied, ProblemError
from saas.ratelimit import client_address
from saas.tenant_cache import cache_forget_naming
from tenants.models import Membership, Tenant, User
from tenants.requests import request_tenant
from tenants.selectors import tenant_routes_cache_forget
from tenants.services import audit_event_record, tenant_delete
from widget_builder.models import Widget

from ..emails import deletion_emails_send, deletion_link_send

logger = logging.getLogger(__name__)

SALT = "privacy.workspace-deletion"


class DeletionLinkInvalid(ProblemError):
    status = 400
    code = "deletion_link_invalid"
    title = "The deletion link is not valid"


class DeletionAlreadyScheduled(Conflict):
    code = "workspace_deletion_scheduled"
    title = "The workspace is already scheduled for deletion"


class OwnersOnly(PermissionDenied):
    title = "Only an owner of the workspace can do this"


def grace_period() -> timedelta:
    return timedelta(days=int(getattr(settings, "PRIVACY_DELETION_GRACE_DAYS", 14)))


def link_lifetime() -> timedelta:
    return timedelta(hours=int(getattr(settings, "PRIVACY_DELETION_LINK_HOURS", 24)))


def _require_owner(tenant: Tenant, user: User) -> None:
    if not Membership.objects.filter(tenant=tenant, user=user, role=Membership.Role.OWNER).exists():
        raise OwnersOnly("Ask an owner of the workspace.")


def owner_emails(tenant: Tenant) -> list[str]:
    return list(
        Membership.objects.filter(tenant=tenant, role=Membership.Role.OWNER)
        .order_by("user__email")
        .values_list("user__email", flat=True)
    )


def workspace_export_request(*, request: HttpRequest, user: User) -> ExportJob:
    """Queue the ZIP of all the workspace's data for ``user`` (an owner); its link is
    emailed when it is ready (``exports.files``)."""
    tenant: Tenant = request_tenant(request)
    _require_owner(tenant, user)
    with transaction.atomic():
        job = export_job_create(
            kind=ExportJob.Kind.WORKSPACE, filters={}, user=user, role=Membership.Role.OWNER
        )
        audit_record(
            action="workspace.export_requested",
            request=request,
            target_type="export",
            target_id=str(job.public_id),
        )
    return job


def deletion_token(*, tenant: Tenant, user: User) -> str:
    return signing.dumps({"t": tenant.pk, "u": user.pk}, salt=SALT)


def workspace_deletion_request(*, request: HttpRequest, user: User) -> None:
    """Email ``user`` (an owner) the link that confirms the deletion; nothing changes yet."""
    tenant: Tenant = request_tenant(request)
    _require_owner(tenant, user)
    if tenant.delete_after is not None:
        raise DeletionAlreadyScheduled("Undo the scheduled deletion first, or let it run.")
    token = deletion_token(tenant=tenant, user=user)
    with transaction.atomic():
        audit_record(action="workspace.deletion_requested", request=request)
        transaction.on_commit(
            lambda: deletion_link_send(
                tenant=tenant,
                to=user.email,
                path=reverse("privacy:workspace-delete-confirm") + f"?token={token}",
                valid_for=link_lifetime(),
            )
        )


def deletion_link_check(*, token: str, tenant: Tenant, user: User) -> None:
    """Refuse (``DeletionLinkInvalid``) a link that is forged, expired, or another's."""
    try:
        data = signing.loads(token, salt=SALT, max_age=link_lifetime())
    except signing.SignatureExpired as exc:
        raise DeletionLinkInvalid("The link has expired: ask for a new one on the Settings page.") from exc
    except signing.BadSignature as exc:
        raise DeletionLinkInvalid("The link is damaged: ask for a new one on the Settings page.") from exc
    if not isinstance(data, dict) or data.get("t") != tenant.pk or data.get("u") != user.pk:
        raise DeletionLinkInvalid("The link is for another workspace or another person.")


def workspace_deletion_confirm(*, request: HttpRequest, user: User, token: str) -> Tenant:
    """Schedule the deletion the link in ``token`` confirms (an owner's own link, unexpired):
    the grace period starts; every owner is told. Confirming again changes nothing."""
    tenant: Tenant = request_tenant(request)
    deletion_link_check(token=token, tenant=tenant, user=user)
    _require_owner(tenant, user)
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
        if tenant.delete_after is not None:
            return tenant
        tenant.delete_after = timezone.now() + grace_period()
        tenant.save(update_fields=["delete_after", "updated_at"])
        tenant_routes_cache_forget(tenant)  # the host's cached tenant carries delete_after
        when = tenant.delete_after.isoformat()
        audit_event_record(
            actor=user,
            action="tenant.deletion_scheduled",
            target=tenant,
            metadata={"delete_after": when},
            ip=client_address(request),
        )
        audit_record(action="workspace.deletion_scheduled", request=request, metadata={"delete_after": when})
        scheduled = tenant
        transaction.on_commit(
            lambda: deletion_emails_send(tenant=scheduled, event="scheduled", by=user.email)
        )
    return tenant


def workspace_deletion_cancel(*, request: HttpRequest, user: User) -> Tenant:
    """Undo a scheduled deletion (an owner, during the grace period); every owner is told."""
    tenant: Tenant = request_tenant(request)
    _require_owner(tenant, user)
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
        if tenant.delete_after is None:
            return tenant
        tenant.delete_after = None
        tenant.save(update_fields=["delete_after", "updated_at"])
        tenant_routes_cache_forget(tenant)
        audit_event_record(
            actor=user, action="tenant.deletion_cancelled", target=tenant, ip=client_address(request)
        )
        audit_record(action="workspace.deletion_cancelled", request=request)
        kept = tenant
        transaction.on_commit(lambda: deletion_emails_send(tenant=kept, event="cancelled", by=user.email))
    return tenant


def _identifiers(tenant: Tenant) -> list[str]:
    """What names the workspace outside its own cache keyspace and ``tenant_delete`` does
    not know (it forgets its hosts and registered widget keys): its visitors' ids and every
    widget's key (rate-limit counters)."""
    names: list[str] = []
    if schema_exists(tenant.schema_name):  # gone when a previous run dropped it
        with schema_context(tenant.schema_name):
            names += list(Widget.objects.values_list("key", flat=True))
            names += [
                str(p) for p in Contact.objects.values_list("public_id", flat=True).iterator(chunk_size=2000)
            ]
    return names


def workspace_delete_now(*, tenant: Tenant) -> None:
    """Delete ``tenant`` for good (``tenant_delete``) and forget every cached trace of it;
    then tell its owners. Running it again on a half-done delete finishes it."""
    owners, name = owner_emails(tenant), tenant.name
    identifiers = _identifiers(tenant)
    tenant_delete(tenant=tenant, by=None)
    cache_forget_naming(identifiers, schema_name=None)
    deletion_emails_send(tenant=None, event="deleted", by="", to=owners, name=name)
    logger.info("privacy: workspace deleted after its grace period tenant=%s", tenant.pk)


def workspaces_delete_due(*, now: datetime | None = None) -> int:
    """Delete every workspace whose grace period has ended (the hourly beat job). One
    failing is logged and left for the next run; returns how many were deleted."""
    now = now or timezone.now()
    deleted = 0
    with schema_context(get_public_schema_name()):
        due = list(Tenant.objects.filter(delete_after__lte=now).exclude(status=Tenant.Status.PROVISIONING))
        for tenant in due:
            try:
                workspace_delete_now(tenant=tenant)
            except Exception:
                logger.exception("privacy: deleting workspace %s failed; retried next run", tenant.pk)
                continue
            deleted += 1
    return deleted
