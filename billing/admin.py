"""Platform staff: every tenant's plan, subscription status and MRR; plans and extra quota
granted by hand. Changes go to the platform audit log (tenants.admin.AuditedModelAdmin)
and to the tenant's billing audit."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import admin
from unfold.admin import ModelAdmin
from unfold.widgets import UnfoldAdminSelectWidget, UnfoldAdminTextInputWidget

from tenants.admin import AuditedModelAdmin

from .models import BillingAccount, BillingAuditEvent, QuotaGrant, StripeEvent
from .plans import PLANS, QUOTAS, plan_get
from .subscriptions import staff_plan_grant


def monthly_revenue(account: BillingAccount) -> Decimal:
    """What the account pays a month (USD), for subscriptions Stripe is charging."""
    if account.source != BillingAccount.Source.STRIPE or account.status not in ("active", "past_due"):
        return Decimal(0)
    plan = plan_get(account.tenant.plan)
    if account.interval == "yearly":
        return (Decimal(plan.yearly) / 12).quantize(Decimal("0.01"))
    return Decimal(plan.monthly)


class BillingAccountForm(forms.ModelForm):
    plan = forms.ChoiceField(
        choices=[(p.code, p.name) for p in PLANS],
        widget=UnfoldAdminSelectWidget,
        help_text="Granting a plan here applies it at once (source: staff). A Stripe subscription "
        "keeps billing its own price: change it in Stripe too.",
    )
    reason = forms.CharField(
        max_length=300,
        required=False,
        help_text="Why (kept in the audit log).",
        widget=UnfoldAdminTextInputWidget,
    )

    class Meta:
        model = BillingAccount
        fields = ("plan", "reason")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["plan"].initial = self.instance.tenant.plan


@admin.register(BillingAccount)
class BillingAccountAdmin(AuditedModelAdmin):
    form = BillingAccountForm
    list_display = (
        "tenant",
        "plan",
        "status",
        "source",
        "interval",
        "mrr",
        "current_period_end",
        "past_due_since",
    )
    list_filter = ("status", "source", "interval", "tenant__plan")
    search_fields = ("tenant__slug", "tenant__name", "stripe_customer_id", "stripe_subscription_id")
    list_select_related = ("tenant",)
    readonly_fields = (
        "tenant",
        "stripe_customer_id",
        "stripe_subscription_id",
        "status",
        "source",
        "interval",
        "current_period_start",
        "current_period_end",
        "cancel_at_period_end",
        "trial_ends_at",
        "past_due_since",
        "synced_at",
    )

    def has_add_permission(self, request) -> bool:
        return False  # every tenant has one, made with it

    @admin.display(description="Plan", ordering="tenant__plan")
    def plan(self, account: BillingAccount) -> str:
        return plan_get(account.tenant.plan).name

    @admin.display(description="MRR (USD)")
    def mrr(self, account: BillingAccount) -> Decimal:
        return monthly_revenue(account)

    def changelist_view(self, request, extra_context=None):
        accounts = BillingAccount.objects.filter(source="stripe", status__in=("active", "past_due"))
        total = sum((monthly_revenue(a) for a in accounts.select_related("tenant")), Decimal(0))
        extra_context = {**(extra_context or {}), "title": f"Billing accounts — MRR ${total:,.2f}"}
        return super().changelist_view(request, extra_context)

    def save_model(self, request, obj, form, change):
        staff_plan_grant(
            tenant=obj.tenant,
            plan_code=form.cleaned_data["plan"],
            by=request.user,
            reason=form.cleaned_data["reason"],
        )


class QuotaGrantForm(forms.ModelForm):
    quota = forms.ChoiceField(
        choices=[(q, words[1]) for q, words in QUOTAS.items()], widget=UnfoldAdminSelectWidget
    )

    class Meta:
        model = QuotaGrant
        fields = ("tenant", "quota", "extra", "reason", "expires_at")


@admin.register(QuotaGrant)
class QuotaGrantAdmin(AuditedModelAdmin):
    form = QuotaGrantForm
    list_display = ("tenant", "quota", "extra", "reason", "expires_at", "granted_by", "created_at")
    list_filter = ("quota",)
    search_fields = ("tenant__slug", "tenant__name", "reason")
    autocomplete_fields = ("tenant",)
    readonly_fields = ("granted_by", "created_at")

    def save_model(self, request, obj, form, change):
        obj.granted_by = request.user.email
        super().save_model(request, obj, form, change)
        BillingAuditEvent.objects.create(
            tenant=obj.tenant,
            actor_email=request.user.email,
            action="quota_grant",
            detail={"quota": obj.quota, "extra": obj.extra, "reason": obj.reason},
        )


@admin.register(BillingAuditEvent)
class BillingAuditEventAdmin(ModelAdmin):
    list_display = ("created_at", "tenant", "action", "actor_email")
    list_filter = ("action",)
    search_fields = ("tenant__slug", "actor_email")
    readonly_fields = ("tenant", "actor_email", "action", "detail", "created_at")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(StripeEvent)
class StripeEventAdmin(ModelAdmin):
    list_display = ("event_id", "type", "created", "processed_at", "attempts")
    list_filter = ("type",)
    search_fields = ("event_id",)
    readonly_fields = (
        "event_id",
        "type",
        "created",
        "payload",
        "received_at",
        "processed_at",
        "attempts",
        "error",
    )

    def has_add_permission(self, request) -> bool:
        return False
