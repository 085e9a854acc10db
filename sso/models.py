"""A workspace's own OpenID Connect provider (public schema: it is looked up on the public
host, before anyone is signed in)."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from tenants.models import Tenant


class IdentityProvider(models.Model):
    """One per workspace. The client secret is stored encrypted (``saas.crypto``) and never
    shown again; ``allowed_domains`` are the email domains whose people may join the
    workspace by signing in through the provider (just-in-time membership)."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="identity_provider")
    issuer = models.URLField(max_length=500)
    client_id = models.CharField(max_length=255)
    client_secret_encrypted = models.TextField()
    allowed_domains = ArrayField(models.CharField(max_length=253), default=list, blank=True)
    enabled = models.BooleanField(default=True)
    require_sso = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["enabled"], name="sso_idp_enabled")]

    def __str__(self) -> str:
        return self.issuer
