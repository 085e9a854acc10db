"""The workspace audit log: who did what in this workspace, and when.

Rows are never updated or deleted: a trigger refuses UPDATE, DELETE and TRUNCATE (like the
platform audit log, ``tenants.PlatformAuditEvent``). The actor and the target are kept as
values, not foreign keys, so an event outlives the member, key or widget it names.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class AuditEvent(models.Model):
    class ActorKind(models.TextChoices):
        MEMBER = "member", "Member"
        API_KEY = "api_key", "API key"
        STAFF = "staff", "Platform staff"
        SYSTEM = "system", "System"

    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices, default=ActorKind.SYSTEM)
    actor_id = models.BigIntegerField(null=True, blank=True)
    # The member's email, the API key's name and prefix, or "" for the system.
    actor_label = models.CharField(max_length=254, blank=True, default="")
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64, blank=True, default="")
    target_id = models.CharField(max_length=64, blank=True, default="")
    target_repr = models.CharField(max_length=255, blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="audit_event_recent"),
            models.Index(fields=["action", "-created_at"], name="audit_event_action"),
            # The page and the export go newest first by id, filtered by action or actor.
            models.Index(fields=["action", "-id"], name="audit_event_action_id"),
            models.Index(fields=["actor_kind", "actor_id", "-id"], name="audit_event_actor"),
        ]

    def __str__(self) -> str:
        actor = self.actor_label or self.actor_kind
        return f"{self.created_at:%Y-%m-%d %H:%M} {actor} {self.action} {self.target_repr}"
