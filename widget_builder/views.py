"""Dashboard pages of the widget builder (tenant host)."""

from __future__ import annotations

import json
from functools import cache
from zoneinfo import available_timezones

from csp.decorators import csp_update
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from billing.limits import quota_limit
from billing.quotas import tenant_plan
from saas.csp import INLINE_STYLES
from saas.errors import QuotaExceeded, ValidationFailed
from tenants.dashboard import dashboard_page
from tenants.hosts import public_reverse, public_url
from tenants.views import shell_context

from . import services
from .forms import WidgetSettingsForm, contrast_verdict
from .models import Widget
from .runtime_views import embed_snippet
from .selectors import widget_public_config

WIDGET_TABS = (
    ("edit", "widget_builder:edit", "Appearance & embed"),
    ("bot", "chat:bot", "Bot"),
    ("automations", "chat:automations", "Automations"),
    ("playground", "chat:playground", "Test your bot"),
)


def widget_tabs(widget: Widget, current: str) -> list[tuple[str, str, bool]]:
    """The tabs of a widget's pages (``<c-tabs>`` items), ``current`` marked; the chat
    app's pages (bot, automations, playground) use them too."""
    return [(reverse(name, args=[widget.pk]), label, key == current) for key, name, label in WIDGET_TABS]


def widget_status(widget: Widget) -> tuple[str, str]:
    """(label, badge tone): published, published with unpublished changes, or a draft."""
    if not widget.published_at:
        return "Draft", ""
    if widget.published_config != widget_public_config(widget):
        return "Unpublished changes", "warning"
    return "Published", "success"


@cache
def time_zones() -> list[str]:
    """The time zones the business-hours editor offers (what the server accepts)."""
    return sorted(available_timezones())


@dashboard_page("widgets")
def widget_list(request):
    widgets = [
        {"widget": w, "status": widget_status(w), "questions": len(w.suggested_questions)}
        for w in Widget.objects.all()
    ]
    plan = tenant_plan(request.tenant)
    limit = quota_limit(request.tenant, "widgets", plan)
    at_limit = limit is not None and len(widgets) >= limit
    context = shell_context(request, widgets=widgets, plan=plan, widget_limit=limit, at_limit=at_limit)
    return render(request, "widget_builder/list.html", context)


@require_POST
@dashboard_page("widgets", manage=True)
def widget_new(request):
    name = (request.POST.get("name") or "").strip()[:120] or "New widget"
    try:
        widget = services.widget_create(
            tenant=request.tenant, name=name, locale=request.tenant.language, request=request
        )
    except QuotaExceeded as error:
        messages.error(request, error.detail)
        return redirect("widget_builder:list")
    return redirect("widget_builder:edit", widget_id=widget.pk)


@csp_update(INLINE_STYLES)  # the preview runs the real widget (its Shadow DOM's <style>)
@dashboard_page("widgets", manage=True)
def widget_edit(request, widget_id: int):
    widget = get_object_or_404(Widget, pk=widget_id)
    form = WidgetSettingsForm(
        request.POST or None, request.FILES or None, instance=widget, plan=tenant_plan(request.tenant)
    )
    saved = Widget.objects.get(pk=widget.pk)  # as stored (the form writes into ``widget``)
    if request.method == "POST":
        if form.is_valid():
            publish = "publish" in request.POST
            try:
                widget = services.widget_settings_update(
                    widget=widget, draft=form.draft(), publish=publish, request=request
                )
            except ValidationFailed as error:
                for field, errors in (error.errors or {}).items():
                    target = "allowed_origins_text" if field.startswith("allowed") else "prechat_fields_json"
                    for e in errors:
                        form.add_error(target, f"{e['message']}" + (f" ({field})" if "." in field else ""))
            else:
                messages.success(request, "Published: visitors see it now." if publish else "Draft saved.")
                return redirect("widget_builder:edit", widget_id=widget.pk)
        messages.error(request, "Nothing was saved: check the settings marked below.")
    base = public_url(request, "")
    status, status_tone = widget_status(saved)
    if form.is_bound:  # a refused save: what the form holds is not what is stored
        status, status_tone = "Not saved", "danger"
    context = shell_context(
        request,
        widget=saved,
        form=form,
        tabs=widget_tabs(saved, "edit"),
        status=status,
        status_tone=status_tone,
        verdict=contrast_verdict(form["primary_color"].value(), form["text_color"].value()),
        row_errors=form.row_errors,
        time_zones=time_zones(),
        saved_css=saved.custom_css,
        snippet=embed_snippet(base_url=base, widget_key=saved.key),
        preview_config=json.dumps({**widget_public_config(saved), "key": saved.key}),
        loader_url=public_reverse(request, "widget_builder:loader"),
        test_url=public_reverse(request, "widget_builder:test-page", saved.key),
        unpublished=saved.published_config != widget_public_config(saved),
    )
    return render(request, "widget_builder/edit.html", context)


@require_POST
@dashboard_page("widgets", manage=True)
def widget_rotate_secret(request, widget_id: int):
    widget = get_object_or_404(Widget, pk=widget_id)
    services.widget_identity_secret_rotate(widget=widget, request=request)
    messages.success(request, "New identity secret created; the old one stopped working.")
    return redirect("widget_builder:edit", widget_id=widget.pk)


@require_POST
@dashboard_page("widgets")
def widget_snippet_copied(request, widget_id: int):
    services.widget_snippet_copied_record(widget_id=widget_id)
    return render(request, "widget_builder/copied.txt", content_type="text/plain")
