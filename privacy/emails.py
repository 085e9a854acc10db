"""The emails of a workspace's self-serve deletion: the confirmation link to the owner who
asked, and the notices to every owner (scheduled, undone, deleted). Sent after the commit
of the change they tell about (callers use ``transaction.on_commit``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from django.utils import timezone

from chat.notifications import workspace_url
from exports.datasets import workspace_tz
from tenants.models import Membership, Tenant
from ui.emails import email_send

SUBJECTS: Final = {
    "scheduled": "{name} will be deleted",
    "cancelled": "The deletion of {name} was undone",
    "deleted": "{name} has been deleted",
}


def deletion_link_send(*, tenant: Tenant, to: str, path: str, valid_for: timedelta) -> int:
    hours = int(valid_for.total_seconds() // 3600)
    return email_send(
        subject=f"Confirm the deletion of {tenant.name}",
        template="privacy/email/deletion_link",
        context={"tenant": tenant, "url": workspace_url(tenant, path), "hours": hours},
        to=[to],
    )


def _local(tenant: Tenant | None) -> str:
    if tenant is None or tenant.delete_after is None:
        return ""
    local = timezone.localtime(tenant.delete_after, workspace_tz(tenant))
    return f"{local:%b} {local.day}, {local:%Y, %H:%M} ({tenant.time_zone})"


def deletion_emails_send(
    *, tenant: Tenant | None, event: str, by: str, to: list[str] | None = None, name: str = ""
) -> int:
    """Tell every owner (``to``, or the tenant's owners now) that the deletion was
    ``event`` (scheduled, cancelled, deleted); one email each."""
    if tenant is not None:
        name = tenant.name
        to = list(
            Membership.objects.filter(tenant=tenant, role=Membership.Role.OWNER).values_list(
                "user__email", flat=True
            )
        )
    context = {
        "tenant": tenant,
        "name": name,
        "by": by,
        "event": event,
        "when": _local(tenant),
        "settings_url": workspace_url(tenant, "/dashboard/settings/") if tenant is not None else "",
    }
    return sum(
        email_send(
            subject=SUBJECTS[event].format(name=name),
            template=f"privacy/email/deletion_{event}",
            context=context,
            to=[address],
        )
        for address in to or []
    )
