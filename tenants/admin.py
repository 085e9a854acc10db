"""Platform staff admin (public host only): tenants, users, and the audit log, themed
with django-unfold (its site and script policy: ``tenants.admin_site``). A tenant's page
also opens the workspace's dashboard read-only for support (``tenants.services.support``).

Every change made here is written to the append-only platform audit log: lifecycle
actions through the services (which record them), plain add/change/delete through
:class:`AuditedModelAdmin`.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.text import capfirst
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import action, display
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm
from unfold.widgets import UnfoldAdminTextInputWidget

from saas.errors import ProblemError, RateLimited, error_response
from saas.ratelimit import client_address, rate_limit

from . import services
from .admin_usage import PlatformDailyUsageAdmin
from .hosts import tenant_url
from .models import (
    Domain,
    Membership,
    PlatformAuditEvent,
    PlatformDailyUsage,
    SpareSchema,
    SupportAccess,
    Tenant,
    User,
)
from .selectors import tenant_host_cache_forget, tenant_usage_counts
from .services import support as support_services


def client_ip(request: HttpRequest) -> str | None:
    """The client's address as the trusted proxies report it (saas.ratelimit)."""
    return client_address(request) or None


class AuditedModelAdmin(ModelAdmin):
    """Mirrors Django's admin log into the platform audit log."""

    def _audit(self, request, obj, verb: str, message) -> None:
        services.audit_event_record(
            actor=request.user,
            action=f"{obj._meta.model_name}.{verb}",
            target=obj,
            metadata={"change": message} if message else {},
            ip=client_ip(request),
        )

    def log_addition(self, request, obj, message):
        self._audit(request, obj, "add", message)
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        self._audit(request, obj, "change", message)
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            self._audit(request, obj, "delete", None)
        return super().log_deletions(request, queryset)


class LabelledInline(TabularInline):
    """A tabular inline whose inputs name their column (aria-label): the table's header
    is not a label, so screen readers would announce bare fields."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if field is not None:
            field.widget.attrs.setdefault("aria-label", capfirst(db_field.verbose_name))
        return field


class DomainInline(LabelledInline):
    model = Domain
    extra = 0
    fields = ("domain", "is_primary", "created_at")
    readonly_fields = ("created_at",)


class MembershipInline(LabelledInline):
    model = Membership
    extra = 0
    fields = ("user", "role", "created_at")
    readonly_fields = ("user", "created_at")

    def has_add_permission(self, request, obj=None):
        return False


class SuspendForm(forms.Form):
    reason = forms.CharField(
        max_length=255,
        required=False,
        label="Reason (kept in the audit log)",
        widget=UnfoldAdminTextInputWidget,
    )


class DeleteForm(forms.Form):
    confirm = forms.CharField(
        label='Type "delete" to confirm',
        widget=UnfoldAdminTextInputWidget,
        help_text="This drops each workspace's schema and stored files. It cannot be undone.",
    )

    def clean_confirm(self):
        if self.cleaned_data["confirm"].strip().lower() != "delete":
            raise forms.ValidationError('Type "delete" to confirm.')
        return self.cleaned_data["confirm"]


class SupportAccessForm(forms.Form):
    reason = forms.CharField(
        max_length=300,
        label="Why you need to look (the workspace's owners are emailed this)",
        help_text="For example: the ticket number and what the customer reported.",
        widget=UnfoldAdminTextInputWidget,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The bounds are settings (read per form, so tests and deployments can change them).
        longest = settings.SUPPORT_ACCESS_MAX_MINUTES
        self.fields["minutes"] = forms.IntegerField(
            min_value=1,
            max_value=longest,
            initial=settings.SUPPORT_ACCESS_MINUTES,
            label="For how many minutes",
            help_text=f"Read-only; it ends by itself after that (at most {longest}).",
            widget=UnfoldAdminTextInputWidget(attrs={"inputmode": "numeric"}),
        )


class SupportAccessInline(TabularInline):
    """The workspace's support accesses, on its page (read-only: the service writes them)."""

    model = SupportAccess
    extra = 0
    fields = ("staff_email", "reason", "started_at", "expires_at", "ended_at", "ended_by_email")
    readonly_fields = fields
    verbose_name_plural = "Support accesses"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Tenant)
class TenantAdmin(AuditedModelAdmin):
    # Chosen to fit 1,280 px: the name (cut) with its primary domain under it, status, plan,
    # the counts and the day it was created; the full values are on the tenant's page.
    list_display = (
        "workspace",
        "status_badge",
        "plan",
        "members",
        "count_widgets",
        "count_conversations",
        "created",
    )
    list_display_links = ("workspace",)
    list_filter = ("status", "plan", ("created_at", admin.DateFieldListFilter))
    search_fields = ("name", "slug", "domains__domain", "memberships__user__email")
    ordering = ("-created_at",)
    # The plan is changed through billing (Billing accounts: audited, Stripe-aware).
    readonly_fields = (
        "schema_name",
        "slug",
        "status",
        "plan",
        "suspended_reason",
        "created_at",
        "updated_at",
    )
    fields = ("name", "slug", "status", "suspended_reason", "plan", "schema_name", "created_at", "updated_at")
    inlines = (DomainInline, MembershipInline, SupportAccessInline)
    actions = ("suspend_tenants", "reactivate_tenants", "delete_tenants")
    actions_detail = ("open_support",)
    list_per_page = 50

    def has_add_permission(self, request):
        return False  # workspaces are provisioned through signup (tenants.services.tenant_provision)

    def has_delete_permission(self, request, obj=None):
        return False  # deletion goes through the confirmed "delete" action and its service

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related("domains")
            .annotate(member_count=Count("memberships", distinct=True))
        )

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        # Counts read through each tenant's schema: one query for the whole page. The page's
        # queryset is evaluated here and cached, so the rows rendered are these instances.
        counts = tenant_usage_counts(changelist.result_list)
        for tenant in changelist.result_list:
            tenant.usage_counts = counts[tenant.pk]
        return changelist

    @display(
        description="Status",
        ordering="status",
        label={"Active": "success", "Suspended": "danger", "Provisioning": "warning", "Deleting": "info"},
    )
    def status_badge(self, obj):
        return obj.get_status_display()

    @admin.display(description="Workspace", ordering="name")
    def workspace(self, obj):
        return format_html(
            '<span class="admin-cut" title="{}">{}</span>'
            '<span class="admin-cut admin-sub" title="{}">{}</span>',
            obj.name,
            obj.name,
            self.primary_domain(obj),
            self.primary_domain(obj),
        )

    @admin.display(description="Domain")
    def primary_domain(self, obj):
        domain = next((d.domain for d in obj.domains.all() if d.is_primary), None)
        return domain or "-"

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj):
        return obj.created_at.date()

    @admin.display(description="Members", ordering="member_count")
    def members(self, obj):
        return obj.member_count

    @staticmethod
    def _count(obj, label):
        value = getattr(obj, "usage_counts", {}).get(label)
        return "-" if value is None else value

    @admin.display(description="Widgets")
    def count_widgets(self, obj):
        return self._count(obj, "widgets")

    @admin.display(description="Conversations")
    def count_conversations(self, obj):
        return self._count(obj, "conversations")

    # --- lifecycle actions, each behind a confirmation page -----------------------------

    def _confirm(self, request, queryset, *, action, title, form_class, button, danger=False):
        form = form_class(request.POST if "confirmed" in request.POST else None)
        if "confirmed" in request.POST and form.is_valid():
            return form
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "queryset": queryset,
            "action": action,
            "form": form,
            "button": button,
            "danger": danger,
            "opts": self.model._meta,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/tenants/tenant/confirm_action.html", context)

    @admin.action(description="Suspend selected workspaces", permissions=["change"])
    def suspend_tenants(self, request, queryset):
        result = self._confirm(
            request,
            queryset,
            action="suspend_tenants",
            title="Suspend workspaces",
            form_class=SuspendForm,
            button="Suspend",
        )
        if isinstance(result, TemplateResponse):
            return result
        targets = [t for t in queryset if t.status == Tenant.Status.ACTIVE]
        for tenant in targets:
            services.tenant_suspend(
                tenant=tenant, by=request.user, reason=result.cleaned_data["reason"], ip=client_ip(request)
            )
        self.message_user(request, f"Suspended {len(targets)} workspace(s).", messages.SUCCESS)
        return None

    @admin.action(description="Reactivate selected workspaces", permissions=["change"])
    def reactivate_tenants(self, request, queryset):
        result = self._confirm(
            request,
            queryset,
            action="reactivate_tenants",
            title="Reactivate workspaces",
            form_class=forms.Form,
            button="Reactivate",
        )
        if isinstance(result, TemplateResponse):
            return result
        targets = [t for t in queryset if t.status == Tenant.Status.SUSPENDED]
        for tenant in targets:
            services.tenant_reactivate(tenant=tenant, by=request.user, ip=client_ip(request))
        self.message_user(request, f"Reactivated {len(targets)} workspace(s).", messages.SUCCESS)
        return None

    def has_delete_tenants_permission(self, request) -> bool:
        # Django's own "delete tenant" permission (not "change"): dropping a workspace is
        # irreversible, so it is granted separately.
        return request.user.has_perm("tenants.delete_tenant")

    @admin.action(description="Delete selected workspaces permanently", permissions=["delete_tenants"])
    def delete_tenants(self, request, queryset):
        result = self._confirm(
            request,
            queryset,
            action="delete_tenants",
            title="Delete workspaces permanently",
            form_class=DeleteForm,
            button="Delete permanently",
            danger=True,
        )
        if isinstance(result, TemplateResponse):
            return result
        targets = list(queryset)
        for tenant in targets:
            services.tenant_delete(tenant=tenant, by=request.user, ip=client_ip(request))
        self.message_user(request, f"Deleted {len(targets)} workspace(s).", messages.SUCCESS)
        return None

    # --- read-only support access to the workspace's dashboard ---------------------------

    def has_support_permission(self, request, object_id=None) -> bool:
        # Reading a customer's conversations is more than viewing its row: Django's own
        # "add support access" permission, granted separately (superusers have it).
        user = request.user
        return bool(
            user.is_active
            and user.is_staff
            and user.has_perm("tenants.add_supportaccess")
            and self.has_view_permission(request)
        )

    @action(
        description="Open dashboard read-only (support)",
        url_path="support",
        permissions=["support"],
        icon="support_agent",
    )
    def open_support(self, request, object_id):
        tenant = self.get_object(request, object_id)
        if tenant is None:
            raise Http404
        form = SupportAccessForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                _, token = support_services.support_access_start(
                    tenant=tenant,
                    staff_user=request.user,
                    reason=form.cleaned_data["reason"],
                    minutes=form.cleaned_data["minutes"],
                    ip=client_ip(request),
                    dashboard_url=tenant_url(request, tenant, "/dashboard/support-access/"),
                    staff_session_key=request.session.session_key or "",
                )
            except ProblemError as error:
                for field, errors in (error.errors or {}).items():
                    for problem in errors:
                        form.add_error(field if field in form.fields else None, problem["message"])
                if not error.errors:
                    form.add_error(None, error.detail)
            else:
                return HttpResponseRedirect(tenant_url(request, tenant, f"/support/handoff?token={token}"))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Open {tenant.name} read-only",
            "tenant": tenant,
            "form": form,
            "opts": self.model._meta,
            "minutes_default": settings.SUPPORT_ACCESS_MINUTES,
        }
        return TemplateResponse(request, "admin/tenants/tenant/support_access.html", context)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    # Domain edits (inline) and status changes route hosts differently: forget them all.
    def save_related(self, request, form, formsets, change):
        before = set(form.instance.domains.values_list("domain", flat=True)) if change else set()
        super().save_related(request, form, formsets, change)
        after = set(form.instance.domains.values_list("domain", flat=True))
        for host in before | after:
            tenant_host_cache_forget(host)


@admin.register(Domain)
class DomainAdmin(AuditedModelAdmin):
    list_display = ("domain", "tenant", "is_primary", "created_at")
    search_fields = ("domain", "tenant__slug", "tenant__name")
    list_select_related = ("tenant",)
    autocomplete_fields = ("tenant",)
    readonly_fields = ("created_at",)

    def save_model(self, request, obj, form, change):
        old = Domain.objects.filter(pk=obj.pk).values_list("domain", flat=True).first() if change else None
        super().save_model(request, obj, form, change)
        for host in {old, obj.domain} - {None}:
            tenant_host_cache_forget(host)

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        tenant_host_cache_forget(obj.domain)

    def delete_queryset(self, request, queryset):
        hosts = list(queryset.values_list("domain", flat=True))
        super().delete_queryset(request, queryset)
        for host in hosts:
            tenant_host_cache_forget(host)


def admin_login_limited(login_view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The platform admin's own login form, limited like allauth's sign-in
    (``ACCOUNT_RATE_LIMITS["login_failed"]``: 10 a minute per client address, 5 per five
    minutes per address typed), so staff passwords cannot be guessed at speed."""

    @functools.wraps(login_view)
    def view(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if request.method == "POST":
            typed = (request.POST.get("username") or "").strip().lower()
            retry = rate_limit(request, "admin-login-ip", limit=10, period_s=60) or (
                rate_limit(
                    request,
                    "admin-login-user",
                    limit=5,
                    period_s=300,
                    key=hashlib.sha256(typed.encode()).hexdigest(),
                )
                if typed
                else 0
            )
            if retry:
                error = RateLimited(
                    "Too many sign-in attempts. Wait a few minutes, then try again.",
                    headers={"Retry-After": str(retry)},
                )
                return error_response(request, error, template="429.html")
        return login_view(request, extra_context)

    return view


admin.site.login = admin_login_limited(admin.site.login)  # type: ignore[method-assign]
admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(AuditedModelAdmin, DjangoGroupAdmin):
    """Groups carry staff permissions: their edits are audited like everything else."""


@admin.register(User)
class UserAdmin(AuditedModelAdmin, DjangoUserAdmin):
    ordering = ("email",)
    list_display = ("email", "first_name", "last_name", "is_staff", "is_active", "date_joined")
    search_fields = ("email", "first_name", "last_name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    # unfold's styled forms (the same fields and validation as Django's).
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm


class ReadOnlyAdmin(ModelAdmin):
    """Visible to staff, changed only by the platform itself."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PlatformAuditEvent)
class PlatformAuditEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "actor_email", "action", "target_type", "target_repr", "ip_address")
    list_filter = ("action", "target_type", ("created_at", admin.DateFieldListFilter))
    search_fields = ("actor_email", "action", "target_repr", "target_id")
    readonly_fields = [f.name for f in PlatformAuditEvent._meta.fields]


@admin.register(SpareSchema)
class SpareSchemaAdmin(ReadOnlyAdmin):
    list_display = ("schema_name", "created_at")
    readonly_fields = ("schema_name", "created_at")


@admin.register(SupportAccess)
class SupportAccessAdmin(ReadOnlyAdmin):
    """Every staff support access (started from a tenant's page; the audit log has each
    start and early end)."""

    list_display = ("started_at", "staff_email", "tenant", "reason_cut", "expires_at", "ended_at")
    list_filter = (("started_at", admin.DateFieldListFilter),)
    search_fields = ("staff_email", "tenant__slug", "tenant__name", "reason")
    list_select_related = ("tenant",)
    fields = ("tenant", "staff_email", "reason", "started_at", "expires_at", "ended_at", "ended_by_email")
    readonly_fields = fields

    @admin.display(description="Reason")
    def reason_cut(self, obj):
        return format_html('<span class="admin-cut" title="{}">{}</span>', obj.reason, obj.reason)


admin.site.register(PlatformDailyUsage, PlatformDailyUsageAdmin)
