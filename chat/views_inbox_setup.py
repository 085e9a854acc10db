"""The inbox's setup pages (tenant host): canned replies (every member uses them; owners
and admins write them, as in Chatwoot and Intercom's shared macros), the inbox settings
with each member's widgets and capacity (owners and admins), and "My preferences" (every
member, for themselves)."""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from saas.errors import ProblemError
from tenants.dashboard import dashboard_page
from tenants.views import shell_context

from . import inbox
from .forms import AgentPreferencesForm, AgentSetupForm, CannedReplyForm, InboxSettingsForm
from .models import AgentProfile, CannedReply
from .presence import agent_profile_for, inbox_settings
from .services import agents as agents_service
from .views_inbox import inbox_tabs

logger = logging.getLogger(__name__)


def problem_on(form: forms.BaseForm, error: ProblemError) -> None:
    """A service's refusal on the form: each field message on its field (the form's own
    errors when the form has no such field), else the detail."""
    details: list[tuple[str | None, str]] = [
        (name, e["message"]) for name, errs in (error.errors or {}).items() for e in errs
    ]
    for name, message in details or [(None, error.detail)]:
        form.add_error(name if name in form.fields else None, message)


def is_manager(request: Any) -> bool:
    return request.membership.role in inbox.MANAGER_ROLES


def manager_required(request: Any) -> None:
    if request.method == "POST" and not is_manager(request):
        raise PermissionDenied("Owners and admins change this.")


# --- canned replies ----------------------------------------------------------------------


@dashboard_page("conversations")
def canned_replies(request):
    """The replies, with the add form, or (``?edit=<id>``) the edit form of one."""
    manager_required(request)
    editing = None
    if edit := request.GET.get("edit", ""):
        editing = get_object_or_404(CannedReply, pk=int(edit)) if edit.isdigit() else None
    form = CannedReplyForm(request.POST or None, instance=editing)
    if request.method == "POST" and form.is_valid():
        data = {k: form.cleaned_data[k] for k in ("shortcut", "title", "text")}
        try:
            if editing is None:
                saved = agents_service.canned_reply_create(by_user_id=request.user.pk, **data)
            else:
                saved = agents_service.canned_reply_update(reply=editing, **data)
        except ProblemError as error:
            problem_on(form, error)
        else:
            messages.success(request, f"Canned reply /{saved.shortcut} saved.")
            return redirect("chat:canned-replies")
    context = shell_context(
        request,
        replies=inbox.canned_replies(),
        form=form,
        editing=editing,
        manages=is_manager(request) and request.support_access is None,
        tabs=inbox_tabs(request, "canned"),
    )
    return render(request, "chat/inbox/canned_replies.html", context)


@require_POST
@dashboard_page("conversations")
def canned_reply_delete(request, reply_id: int):
    manager_required(request)
    reply = get_object_or_404(CannedReply, pk=reply_id)
    agents_service.canned_reply_delete(reply=reply)
    messages.success(request, f"Canned reply /{reply.shortcut} deleted.")
    return redirect("chat:canned-replies")


# --- inbox settings ----------------------------------------------------------------------


def _agent_rows(request: Any, data: Any = None) -> list[dict[str, Any]]:
    members = inbox.workspace_members(request.tenant)
    profiles = {
        p.user_id: p
        for p in AgentProfile.objects.filter(user_id__in=[m.user_id for m in members]).prefetch_related(
            "widgets"
        )
    }
    rows = []
    for member in members:
        profile = profiles.get(member.user_id) or AgentProfile(user_id=member.user_id)
        initial = {
            "user_id": member.user_id,
            "capacity": profile.capacity,
            "widgets": list(profile.widgets.all()) if profile.pk else [],
        }
        form = AgentSetupForm(data, prefix=f"m{member.user_id}", initial=initial)
        rows.append({"member": member, "form": form})
    return rows


@dashboard_page("conversations")
def inbox_settings_page(request):
    if not (is_manager(request) or request.support_access is not None):
        raise PermissionDenied("Owners and admins change the inbox settings.")
    data = request.POST or None
    form = InboxSettingsForm(data, instance=inbox_settings())
    rows = _agent_rows(request, data)
    if request.method == "POST" and form.is_valid() and all(r["form"].is_valid() for r in rows):
        try:
            agents_service.inbox_settings_update(request=request, **form.cleaned_data)
            for row in rows:
                cleaned = row["form"].cleaned_data
                agents_service.agent_profile_update(
                    user_id=row["member"].user_id,
                    capacity=cleaned["capacity"],
                    widget_ids=[w.pk for w in cleaned["widgets"]],
                )
        except ProblemError as error:
            problem_on(form, error)
        else:
            logger.info("inbox settings saved by=%s", request.user.pk)
            messages.success(request, "Inbox settings saved.")
            return redirect("chat:inbox-settings")
    context = shell_context(request, form=form, rows=rows, tabs=inbox_tabs(request, "settings"))
    return render(request, "chat/inbox/settings.html", context)


# --- my preferences ----------------------------------------------------------------------


@dashboard_page("conversations")
def inbox_preferences(request):
    profile = agent_profile_for(request.user.pk)
    form = AgentPreferencesForm(request.POST or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        try:
            agents_service.agent_profile_update(user_id=request.user.pk, **form.cleaned_data)
        except ProblemError as error:
            problem_on(form, error)
        else:
            messages.success(request, "Your preferences are saved.")
            return redirect("chat:inbox-preferences")
    context = shell_context(request, form=form, tabs=inbox_tabs(request, "preferences"))
    return render(request, "chat/inbox/preferences.html", context)
