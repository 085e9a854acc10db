"""Tenancy and identity, all in the public schema.

* :class:`Tenant` — one customer workspace, one PostgreSQL schema (opaque ``t_<random>``).
* :class:`Domain` — hosts that route to a tenant (``<slug>.<BASE_DOMAIN>`` primary).
* :class:`SpareSchema` — fully migrated, unclaimed schemas kept ready for instant signup.
* :class:`User` and :class:`Membership` — users are global; a membership gives a role in
  one tenant.
* :class:`Invitation` — an emailed invitation to join a tenant with a role.
* :class:`ApiKey` — a tenant's API keys, stored as SHA-256 hashes.
* :class:`LoginHandoff` — one-time tokens that carry a signed-in user to a tenant's host.
* :class:`WidgetRoute` — the widget-key registry: which tenant serves a widget key.
* :class:`PlatformAuditEvent` — append-only record of every platform staff action.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone

if TYPE_CHECKING:
    # django-tenants ships no type information, so to the type checker its abstract models
    # would be Any and Tenant and Domain no models at all. What they add, as it should see it:

    class TenantMixin(models.Model):
        schema_name = models.CharField(max_length=63, unique=True)
        domain_url: str | None
        auto_create_schema: bool
        auto_drop_schema: bool

        class Meta:
            abstract = True

    class DomainMixin(models.Model):
        domain = models.CharField(max_length=253, unique=True)
        tenant = models.ForeignKey("tenants.Tenant", related_name="domains", on_delete=models.CASCADE)
        is_primary = models.BooleanField(default=True)

        class Meta:
            abstract = True

else:
    from django_tenants.models import DomainMixin, TenantMixin

SCHEMA_PREFIX = "t_"
_SCHEMA_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
# The only shape a tenant schema name can have; checked before any DDL touches one.
TENANT_SCHEMA_RE = re.compile(r"t_[a-z2-7]{16}")


def new_schema_name() -> str:
    # 16 lowercase base32 characters: 80 random bits, valid unquoted identifier.
    return SCHEMA_PREFIX + "".join(secrets.choice(_SCHEMA_ALPHABET) for _ in range(16))


class Tenant(TenantMixin):
    class Status(models.TextChoices):
        PROVISIONING = "provisioning", "Provisioning"
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        DELETING = "deleting", "Deleting"

    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PROVISIONING, db_index=True
    )
    # Placeholder until billing owns plans (issue: billing); read as a plain code here.
    plan = models.CharField(max_length=32, default="free", db_index=True)
    suspended_reason = models.CharField(max_length=255, blank=True, default="")
    # Workspace settings (the dashboard's Settings section).
    time_zone = models.CharField(max_length=64, default="UTC")  # an IANA name (zoneinfo)
    language = models.CharField(max_length=16, default="en")  # the default for new widgets
    logo = models.TextField(blank=True, default="")  # a data: URI of a small image (the shell)
    # Self-serve deletion (privacy.services.deletion): set when an owner confirmed it, the
    # moment the grace period ends and the beat job deletes the workspace; None otherwise.
    delete_after = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Schemas are created by tenants.services (from the pool, or migrated on demand),
    # and dropped by tenant_delete only; never implicitly by save()/delete().
    auto_create_schema = False
    auto_drop_schema = False

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    @property
    def is_serving(self) -> bool:
        return self.status == self.Status.ACTIVE


class Domain(DomainMixin):
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.domain


class SpareSchema(models.Model):
    """A migrated schema no tenant owns yet. Claimed (deleted) in the signup transaction."""

    schema_name = models.CharField(max_length=63, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.schema_name


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person. Global across tenants; logs in with an email address."""

    username = None  # type: ignore[assignment]  # no username: AbstractUser's field removed
    email = models.EmailField("email address", unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    # Sign-in by email: Django's UserManager (which the stubs expect here) needs a username.
    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]
    # When the "verify or your account goes" email went (tenants.services.unverified): once.
    unverified_warned_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.email


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        AGENT = "agent", "Agent"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.AGENT)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "user"], name="membership_unique_user")]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.tenant.slug}"


class PlatformAuditEvent(models.Model):
    """Who did what to which target, when. Rows are never updated or deleted.

    Append-only is enforced by the database (a trigger refuses UPDATE and DELETE), so
    neither the admin, a bug nor a shell session can rewrite history. The actor and the
    target are kept as values rather than foreign keys for the same reason: deleting a
    tenant or a user must not touch its audit trail.
    """

    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_email = models.CharField(max_length=254, blank=True, default="")
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64)
    target_repr = models.CharField(max_length=255, blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        actor = self.actor_email or "system"
        return f"{self.created_at:%Y-%m-%d %H:%M} {actor} {self.action} {self.target_repr}"


class LoginHandoff(models.Model):
    """A one-time, short-lived ticket that carries a signed-in user from the public host to
    one tenant host, where it becomes a host-only session. Only the token's hash is kept.

    ``public_session_key`` and ``tenant_session_key`` link the two sessions so that signing
    out on either host ends both.
    """

    token_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    public_session_key = models.CharField(max_length=40, blank=True, default="", db_index=True)
    tenant_session_key = models.CharField(max_length=40, blank=True, default="", db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"handoff of {self.user_id} to {self.tenant_id}"


class Invitation(models.Model):
    """An invitation to join a tenant with a role. The emailed link carries a signed,
    expiring token naming this row; accepting it once marks it used."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Membership.Role.choices)
    invited_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(default=timezone.now)
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-sent_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "email"],
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_pending_per_email",
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} to {self.tenant_id} as {self.role}"

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None


class ApiKey(models.Model):
    """A tenant's API key. The secret (``sk_...``) is shown once; only its SHA-256 is kept.
    A key acts with a role (admin or agent), never owner."""

    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        AGENT = "agent", "Agent"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=12)  # shown in lists so people can tell keys apart
    key_hash = models.CharField(max_length=64, unique=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ADMIN)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class WidgetRoute(models.Model):
    """Public registry: which tenant a widget key belongs to, so the widget API on the
    public host can enter the right schema without the tenant's host. The widget itself
    lives in the tenant's schema; this row is written in the same transaction."""

    key = models.CharField(max_length=40, unique=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="widget_routes")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.key} -> {self.tenant_id}"


class SupportAccess(models.Model):
    """A staff member's time-limited, read-only look at one workspace's dashboard, for
    support (tenants.services.support). Started from the platform admin with a reason the
    workspace's owners see; it ends at ``expires_at``, or earlier when an owner or the
    staff member ends it (``ended_at``). The one-time hand-off into the workspace's host
    is kept as a hash, spent once (``handoff_used_at``), and opens the session named by
    ``session_key``."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="support_accesses")
    staff = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    staff_email = models.CharField(max_length=254)  # kept when the staff user goes
    reason = models.CharField(max_length=300)
    started_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by_email = models.CharField(max_length=254, blank=True, default="")
    handoff_hash = models.CharField(max_length=64, unique=True)
    handoff_expires_at = models.DateTimeField()
    handoff_used_at = models.DateTimeField(null=True, blank=True)
    session_key = models.CharField(max_length=40, blank=True, default="")
    # The staff member's platform-admin session that started it: signing out there ends it.
    staff_session_key = models.CharField(max_length=40, blank=True, default="", db_index=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["tenant", "-started_at"], name="support_access_tenant_idx")]

    def __str__(self) -> str:
        return f"support access by {self.staff_email} to {self.tenant_id}"

    def is_live(self, now: datetime | None = None) -> bool:
        """Not ended and not expired (at ``now``)."""
        return self.ended_at is None and self.expires_at > (now or timezone.now())


class PlatformDailyUsage(models.Model):
    """The platform's figures of one UTC day, for staff (tenants.services.platform_usage):
    workspaces that existed at its end, those with a message that day, messages and AI
    answers. Written once per complete day by the daily job, never changed afterwards."""

    day = models.DateField(unique=True)
    tenants = models.PositiveIntegerField(default=0)
    active_tenants = models.PositiveIntegerField(default=0)
    messages = models.PositiveIntegerField(default=0)
    ai_answers = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-day"]
        verbose_name = "platform daily usage"
        verbose_name_plural = "platform daily usage"

    def __str__(self) -> str:
        return f"{self.day}: {self.messages} messages in {self.active_tenants}/{self.tenants} workspaces"
