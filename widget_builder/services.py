"""Writes for widgets. Preconditions: the tenant's schema is active."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.request import Request

from audit.services import audit_record, field_changes
from billing.quotas import quota_require
from saas.errors import Conflict, ValidationFailed
from tenants.models import Tenant, User
from tenants.services.widget_routes import widget_route_forget, widget_route_register

from .drafts import PLAIN_FIELDS, WidgetDraft
from .models import Widget, new_identity_secret
from .origins import origin_normalize
from .prechat import prechat_fields_validate
from .selectors import widget_public_config


def widget_ensure_default(*, tenant: Tenant, owner: User) -> Widget:
    """Every workspace starts with one widget, published and ready to customize
    (workspace initializer)."""
    existing = Widget.objects.order_by("id").first()
    return existing or widget_create(tenant=tenant, name="Website chat", audited=False)


# Settings whose old and new values the audit log shows (the rest: only their names).
AUDIT_SHOWN = (*(f for f in PLAIN_FIELDS if f != "custom_css"), "allowed_origins", "prechat_enabled")
AUDITED = (*PLAIN_FIELDS, "suggested_questions", "business_hours", "avatar", "launcher_image")
AUDITED_AFTER = ("allowed_origins", "prechat_enabled", "prechat_fields", "consent_text", "consent_url")


def widget_create(
    *,
    tenant: Tenant,
    name: str,
    locale: str = "",
    request: HttpRequest | Request | None = None,
    audited: bool = True,
) -> Widget:
    """A new widget with its key registered in the public registry, in one transaction.
    The plan caps how many widgets a workspace has (checked under a lock). ``locale``: the
    widget's language (the workspace's default language for widgets made in the dashboard);
    one the widget does not speak leaves it following the visitor's language. Recorded as
    ``widget.created`` (not for the workspace's first widget, ``audited=False``)."""
    locales = {value for value, _ in Widget._meta.get_field("locale").choices or ()}
    with transaction.atomic():
        quota_require(tenant, "widgets", used=Widget.objects.count)
        widget = Widget.objects.create(name=name, locale=locale if locale in locales else "auto")
        widget_route_register(tenant=tenant, key=widget.key)
        _publish(widget)
        if audited:
            audit_record(action="widget.created", request=request, target=widget, metadata={"name": name})
        return widget


def widget_publish(*, widget: Widget, request: HttpRequest | Request | None = None) -> Widget:
    """The draft becomes what visitors see (``widget.published``)."""
    with transaction.atomic():
        _publish(widget)
        audit_record(action="widget.published", request=request, target=widget)
    return widget


def _publish(widget: Widget) -> Widget:
    widget.published_config = widget_public_config(widget)
    widget.published_at = timezone.now()
    widget.save(update_fields=["published_config", "published_at", "updated_at"])
    return widget


def widget_allowed_origins_set(*, widget: Widget, origins: list[str]) -> Widget:
    """Replace the allowed origins (effective at once, without publishing). Each entry is
    validated; errors name the entry."""
    normalized, errors = [], []
    for value in origins:
        try:
            normalized.append(origin_normalize(value))
        except ValidationError as exc:
            errors.append({"code": "invalid_origin", "message": exc.messages[0]})
    if errors:
        raise ValidationFailed(errors={"allowed_origins": errors})
    widget.allowed_origins = sorted(set(normalized))
    widget.save(update_fields=["allowed_origins", "updated_at"])
    return widget


def widget_prechat_set(
    *, widget: Widget, enabled: bool, fields: list[Any], consent_text: str = "", consent_url: str = ""
) -> Widget:
    """Replace the prechat form (draft; visitors see it once published). Changing the
    consent text starts a new consent version."""
    widget.prechat_fields = prechat_fields_validate(fields)
    widget.prechat_enabled = bool(enabled)
    consent_text = (consent_text or "").strip()[:500]
    if consent_text != widget.consent_text:
        widget.consent_version += 1
    widget.consent_text, widget.consent_url = consent_text, (consent_url or "").strip()[:200]
    widget.save(
        update_fields=[
            "prechat_fields",
            "prechat_enabled",
            "consent_text",
            "consent_url",
            "consent_version",
            "updated_at",
        ]
    )
    return widget


def widget_identity_secret_rotate(*, widget: Widget, request: HttpRequest | Request | None = None) -> Widget:
    """A new secret; identify calls signed with the old one fail from now on
    (``widget.secret_rotated``; the secret is never recorded)."""
    with transaction.atomic():
        widget.identity_secret = new_identity_secret()
        widget.save(update_fields=["identity_secret", "updated_at"])
        audit_record(action="widget.secret_rotated", request=request, target=widget)
    return widget


def _audited_values(widget: Widget, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(widget, name) for name in names}


def widget_settings_update(
    *, widget: Widget, draft: WidgetDraft, publish: bool = False, request: HttpRequest | Request | None = None
) -> Widget:
    """Store the builder's draft settings of ``widget`` in one transaction: its design and
    texts, suggested questions, business hours and images (a draft, until published), the
    allowed origins (effective at once) and the prechat form (a new consent text starts a
    new consent version); marks the widget customized; publishes when ``publish``.

    The widget's row is locked and read fresh, so what the caller's instance holds (a form
    may have changed it while validating) is not taken for what is stored. Raises
    ``ValidationFailed`` (origins, prechat fields) and then stores nothing. Recorded as one
    ``widget.updated`` (the fields changed, old and new values of the plain ones, whether
    it was published) when anything changed or it was published.
    Precondition: the tenant's schema is active.
    """
    with transaction.atomic():
        fresh = Widget.objects.select_for_update().get(pk=widget.pk)
        before = _audited_values(fresh, AUDITED + AUDITED_AFTER)
        for name in PLAIN_FIELDS:
            setattr(fresh, name, getattr(draft, name))
        fresh.suggested_questions = list(draft.suggested_questions)
        fresh.business_hours = dict(draft.business_hours)
        if draft.remove_images:
            fresh.avatar = fresh.launcher_image = ""
        fresh.avatar = draft.avatar or fresh.avatar
        fresh.launcher_image = draft.launcher_image or fresh.launcher_image
        fresh.customized_at = fresh.customized_at or timezone.now()
        fresh.save(
            update_fields=[
                *PLAIN_FIELDS,
                "suggested_questions",
                "business_hours",
                "avatar",
                "launcher_image",
                "customized_at",
                "updated_at",
            ]
        )
        widget_allowed_origins_set(widget=fresh, origins=draft.allowed_origins)
        widget_prechat_set(
            widget=fresh,
            enabled=draft.prechat_enabled,
            fields=draft.prechat_fields,
            consent_text=draft.consent_text,
            consent_url=draft.consent_url,
        )
        if publish:
            _publish(fresh)
        metadata = field_changes(before, _audited_values(fresh, AUDITED + AUDITED_AFTER), shown=AUDIT_SHOWN)
        if metadata or publish:
            metadata["published"] = publish
            audit_record(action="widget.updated", request=request, target=fresh, metadata=metadata)
    return fresh


class WidgetHasConversations(Conflict):
    code = "widget_has_conversations"
    title = "This widget has conversations"


def widget_delete(*, widget: Widget, request: HttpRequest | Request | None = None) -> None:
    """Delete ``widget`` with its settings (bot, automations, contacts without a
    conversation, rollups, bot tests) and take its key out of the public registry, in one
    transaction: its snippet stops working at once. A widget that has conversations is
    kept (409 ``widget_has_conversations``): they are the workspace's record of what
    visitors said. Precondition: the tenant's schema is active."""
    with transaction.atomic():
        fresh = Widget.objects.select_for_update().filter(pk=widget.pk).first()
        if fresh is None:
            return
        key = fresh.key
        try:
            fresh.delete()
        except ProtectedError as error:  # conversations protect their widget (nothing deleted)
            raise WidgetHasConversations(
                "This widget has conversations; it can be deleted only while it has none."
            ) from error
        widget_route_forget(key=key)
        audit_record(
            action="widget.deleted",
            request=request,
            target_type="widget",
            target_id=str(widget.pk),
            target_repr=fresh.name,
            metadata={"name": fresh.name},
        )


def widget_snippet_copied_record(*, widget_id: int) -> bool:
    """Note that the embed snippet was copied (the onboarding checklist reads it); only
    the first copy is recorded. Returns whether this call recorded it.
    Precondition: the tenant's schema is active."""
    first = Widget.objects.filter(pk=widget_id, snippet_copied_at__isnull=True).update(
        snippet_copied_at=timezone.now()
    )
    return bool(first)
