"""Billing lives in the public schema: each tenant's billing account (Stripe customer and
subscription state), the Stripe events received (each processed once), usage counters
per tenant per billing period, quota notices, and the meter reports of metered overage.
Plans themselves are code (billing.plans)."""

from django.db import models


class UsageCounter(models.Model):
    """One metric of one tenant in one period (the first day of the month). Incremented in
    the database (``billing.services.usage_consume``), so concurrent answers never lose a count."""

    class Metric(models.TextChoices):
        AI_ANSWERS = "ai_answers", "AI answers (platform credits)"
        AI_ANSWERS_OWN_KEY = "ai_answers_own_key", "AI answers with the workspace's own key"
        AI_ANSWERS_OVERAGE = "ai_answers_overage", "AI answers past the plan's quota (billed)"

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="usage_counters")
    period = models.DateField()
    metric = models.CharField(max_length=32)  # a Metric, or "<metric>:day" for a day's count
    value = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "period", "metric"], name="usage_counter_unique")
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.period:%Y-%m} {self.metric}={self.value}"


class QuotaNotice(models.Model):
    """A quota level reached once in a period: the tenant is told once, not per refusal."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="quota_notices")
    period = models.DateField()
    metric = models.CharField(max_length=32)
    level = models.PositiveSmallIntegerField()  # percent of the quota
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "period", "metric", "level"], name="quota_notice_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.period:%Y-%m} {self.metric} {self.level}%"


class BillingAccount(models.Model):
    """A tenant's subscription as Stripe last told us (webhooks are the source of truth;
    each sync re-fetches the subscription, so the newest state wins whatever the order of
    events). ``Tenant.plan`` is the plan in force; this records where it came from."""

    class Status(models.TextChoices):
        NONE = "none", "No subscription"
        TRIALING = "trialing", "Trial"
        ACTIVE = "active", "Active"
        PAST_DUE = "past_due", "Payment failed"
        UNPAID = "unpaid", "Unpaid"
        CANCELED = "canceled", "Canceled"
        INCOMPLETE = "incomplete", "Incomplete"
        INCOMPLETE_EXPIRED = "incomplete_expired", "Incomplete (expired)"
        PAUSED = "paused", "Paused"

    class Source(models.TextChoices):
        DEFAULT = "default", "Default for new workspaces"
        STRIPE = "stripe", "Stripe subscription"
        DEMO = "demo", "Demo billing"
        STAFF = "staff", "Granted by staff"

    tenant = models.OneToOneField("tenants.Tenant", on_delete=models.CASCADE, related_name="billing")
    stripe_customer_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    stripe_subscription_id = models.CharField(max_length=255, blank=True, db_index=True)
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.NONE)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.DEFAULT)
    interval = models.CharField(max_length=8, blank=True)  # monthly / yearly
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    trial_ends_at = models.DateTimeField(null=True, blank=True)
    past_due_since = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.status}"


class StripeEvent(models.Model):
    """A webhook event, stored when it arrives (unique id: a duplicate delivery stores
    nothing) and processed once: ``processed_at`` is set in the transaction that applies
    its effect, under a lock on this row."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    created = models.DateTimeField()  # Stripe's time of the event
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["processed_at", "received_at"], name="stripe_event_pending")]

    def __str__(self) -> str:
        return f"{self.event_id} {self.type}"


class MeterReport(models.Model):
    """Metered overage sent to Stripe as one Billing Meter event: the units from
    ``value_from`` (exclusive) to ``value_to`` of one usage counter. Written before it is
    sent, so a retry sends the same ``identifier`` and Stripe counts it once."""

    counter = models.ForeignKey(UsageCounter, on_delete=models.CASCADE, related_name="meter_reports")
    value_from = models.PositiveIntegerField()
    value_to = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["counter", "value_to"], name="meter_report_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.identifier} +{self.units}"

    @property
    def identifier(self) -> str:
        return f"usage-{self.counter_id}-{self.value_to}"

    @property
    def units(self) -> int:
        return self.value_to - self.value_from


class BillingAuditEvent(models.Model):
    """Plan and quota changes made by people (staff grants, demo changes)."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="billing_audit")
    actor_email = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=64)
    detail = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.action}"


class QuotaGrant(models.Model):
    """Extra quota granted by platform staff on top of the plan (audited in the admin)."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="quota_grants")
    quota = models.CharField(max_length=32)  # a billing.plans.QUOTAS key
    extra = models.PositiveIntegerField()
    reason = models.CharField(max_length=300)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: until removed.")
    granted_by = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "quota"], name="quota_grant_lookup")]

    def __str__(self) -> str:
        return f"{self.tenant_id} +{self.extra} {self.quota}"
