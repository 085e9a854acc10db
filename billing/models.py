"""Billing lives in the public schema. For now: usage counters per tenant per billing
period, and the notices sent when a quota is reached (plans, Stripe and invoices come with
the billing issue and build on these)."""

from django.db import models


class UsageCounter(models.Model):
    """One metric of one tenant in one period (the first day of the month). Incremented in
    the database (``billing.services.usage_consume``), so concurrent answers never lose a count."""

    class Metric(models.TextChoices):
        AI_ANSWERS = "ai_answers", "AI answers (platform credits)"
        AI_ANSWERS_OWN_KEY = "ai_answers_own_key", "AI answers with the workspace's own key"

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="usage_counters")
    period = models.DateField()
    metric = models.CharField(max_length=32, choices=Metric.choices)
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
