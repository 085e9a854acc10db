"""Dashboard pages of the chat app (tenant host): conversations and their transcripts, and
per widget the bot settings, automations and the playground. Every query runs in the
tenant's schema, which the routing middleware activated."""

from __future__ import annotations

import dataclasses
import logging
import re
import uuid
from datetime import datetime

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import Truncator
from django.views.decorators.http import require_POST

from billing.quotas import tenant_plan
from saas.errors import ValidationFailed
from tenants.dashboard import dashboard_page
from tenants.views import shell_context
from widget_builder.models import Widget
from widget_builder.views import widget_tabs

from .answering import answer_preview
from .forms import AutomationRuleForm, BotSettingsForm, PlaygroundForm
from .markdown import render_markdown
from .models import Attachment, AutomationRule, Conversation, Message
from .selectors import (
    ai_answer_usage,
    automation_rules_with_firings,
    bot_settings_for,
    transcript_messages,
)
from .services import (
    automation_rule_create,
    automation_rule_delete,
    automation_rule_toggle,
    automation_rule_update,
    bot_settings_update,
)
from .widget_api import attachment_response

logger = logging.getLogger(__name__)

QUOTA_WARNING = (
    "AI answers used up: visitors get your fallback text and a handoff offer. Upgrade on the Billing page."
)
_WEB_URL = re.compile(r"^https?://[^\s]+$", re.IGNORECASE)


# --- helpers -----------------------------------------------------------------------------


def web_link(url) -> str:
    """``url`` if it is an http(s) address (safe to put in an href), else ""."""
    url = str(url or "").strip()
    return url if _WEB_URL.match(url) else ""


def citation_rows(citations) -> list[dict]:
    rows = []
    for citation in citations if isinstance(citations, list) else []:
        if not isinstance(citation, dict):
            continue
        rows.append(
            {
                "n": citation.get("n"),
                "title": str(citation.get("title") or "") or "Untitled source",
                "link": web_link(citation.get("url")),
                "url": str(citation.get("url") or ""),
                "file": str(citation.get("file") or ""),
                "page": citation.get("page"),
                "rows": _rows_shown(citation.get("rows")),
            }
        )
    return rows


def _rows_shown(rows) -> str:
    """A visitor's table rows an answer was computed from: "3, 17, 25 …" (the first five)."""
    numbers = [str(n) for n in rows if isinstance(n, int)] if isinstance(rows, list) else []
    return ", ".join(numbers[:5]) + (" …" if len(numbers) > 5 else "")


def contact_label(contact) -> str:
    if contact is None:
        return "Visitor"
    parts = [p for p in (contact.name, contact.email) if p]
    return " · ".join(parts) or "Visitor"


def usage_summary(tenant) -> dict:
    return {**dataclasses.asdict(ai_answer_usage(tenant)), "warning": QUOTA_WARNING}


def message_rows(conversation: Conversation) -> list[dict]:
    """The transcript, ready to show: visitor and system text stays plain (escaped by the
    template), bot and agent text and private notes are rendered Markdown (sanitized)."""
    rows = []
    for message in transcript_messages(conversation):
        rendered = message.role in (Message.Role.BOT, Message.Role.AGENT, Message.Role.NOTE)
        rows.append(
            {
                "message": message,
                "html": render_markdown(message.text) if rendered else None,
                "citations": citation_rows(message.citations),
                "attachments": list(message.attachment_files.all()),
                # Files removed while the message stays (retention): named, no longer served.
                "removed_attachments": [a for a in message.attachments if a.get("removed_at")],
                "is_answer": message.role == Message.Role.BOT,
                "rule": message.automation_rule.name if message.automation_rule else "",
            }
        )
    return rows


def time_ago(when: datetime | None, now: datetime) -> str:
    """A short relative time for lists: "just now", "3 min ago", "5 h ago", "yesterday",
    "4 days ago", then the date (the full date goes in the element's title)."""
    if when is None:
        return ""
    seconds = max(0, int((now - when).total_seconds()))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    days = seconds // 86400
    if days == 1:
        return "yesterday"
    if days < 7:
        return f"{days} days ago"
    local = timezone.localtime(when)
    return date_format(local, "M j" if local.year == timezone.localtime(now).year else "M j, Y")


def conversation_row(conversation: Conversation, last: tuple[str, str] | None, now: datetime) -> dict:
    """A row of the conversation list: who, the last message (``last``: its role and the
    start of its text), when."""
    contact = conversation.contact
    last_role, last_text = last or ("", "")
    name = (contact.name or contact.email) if contact else ""
    return {
        "conversation": conversation,
        "contact": contact_label(contact),
        "name": name or "Visitor",
        "email": contact.email if contact and contact.name else "",
        "verified": bool(contact and contact.identity_verified),
        "ago": time_ago(getattr(conversation, "last_activity", None), now),  # annotated by the selector
        "preview": " ".join(last_text.split()),
        "last_role": last_role,
    }


def widget_for(widget_id: int) -> Widget:
    return get_object_or_404(Widget, pk=widget_id)


# --- conversations (the list and a conversation: chat.views_inbox) -------------------


@dashboard_page("conversations")
def attachment_download(request, attachment_id: uuid.UUID):
    attachment = Attachment.objects.filter(public_id=attachment_id).first()
    if attachment is None:
        raise Http404
    return attachment_response(attachment)


# --- per widget: bot settings, automations, playground -----------------------------------


@dashboard_page("widgets", manage=True)
def widget_bot(request, widget_id: int):
    widget = widget_for(widget_id)
    bot = bot_settings_for(widget)
    form = BotSettingsForm(request.POST or None, instance=bot)
    if request.method == "POST" and form.is_valid():
        try:
            bot_settings_update(
                widget=widget, plan=tenant_plan(request.tenant), request=request, **form.cleaned_data
            )
        except ValidationFailed as error:
            form.add_problem(error)
        else:
            logger.info("bot settings saved widget=%s by=%s", widget.pk, request.user.pk)
            messages.success(request, "Bot settings saved.")
            return redirect("chat:bot", widget_id=widget.pk)
    context = shell_context(
        request,
        widget=widget,
        tabs=widget_tabs(widget, "bot"),
        bot=bot,
        form=form,
        has_knowledge_bases=form.has_knowledge_bases(),
    )
    return render(request, "chat/widget_bot.html", context)


@dashboard_page("widgets", manage=True)
def widget_automations(request, widget_id: int, rule_id: int | None = None):
    """The widget's rules with the add form, or (``rule_id``) the edit form of one rule."""
    widget = widget_for(widget_id)
    rule = get_object_or_404(AutomationRule, pk=rule_id, widget=widget) if rule_id else None
    form = AutomationRuleForm(request.POST or None, instance=rule)
    if request.method == "POST" and form.is_valid():
        try:
            if rule is None:
                saved = automation_rule_create(widget=widget, request=request, **form.cleaned_data)
            else:
                saved = automation_rule_update(rule=rule, request=request, **form.cleaned_data)
        except ValidationFailed as error:
            form.add_problem(error)
        else:
            messages.success(request, f"Automation “{saved.name}” saved.")
            return redirect("chat:automations", widget_id=widget.pk)
    rules = automation_rules_with_firings(widget)
    context = shell_context(
        request,
        widget=widget,
        tabs=widget_tabs(widget, "automations"),
        rules=rules,
        form=form,
        editing=rule,
    )
    return render(request, "chat/widget_automations.html", context)


@dashboard_page("widgets", manage=True)
def widget_automation_delete(request, widget_id: int, rule_id: int):
    widget = widget_for(widget_id)
    rule = get_object_or_404(AutomationRule, pk=rule_id, widget=widget)
    if request.method == "POST":
        automation_rule_delete(rule=rule, request=request)
        messages.success(request, f"Automation “{rule.name}” deleted.")
        return redirect("chat:automations", widget_id=widget.pk)
    context = shell_context(request, widget=widget, tabs=widget_tabs(widget, "automations"), rule=rule)
    return render(request, "chat/widget_automation_delete.html", context)


@require_POST
@dashboard_page("widgets", manage=True)
def widget_automation_toggle(request, widget_id: int, rule_id: int):
    widget = widget_for(widget_id)
    rule = automation_rule_toggle(
        rule=get_object_or_404(AutomationRule, pk=rule_id, widget=widget), request=request
    )
    state = "enabled" if rule.is_enabled else "disabled"
    messages.success(request, f"Automation “{rule.name}” {state}.")
    return redirect("chat:automations", widget_id=widget.pk)


def _preview_rows(result: dict) -> dict:
    passages = []
    for passage in result.get("passages") or []:
        passages.append(
            {
                "rank": passage.get("rank"),
                "ranks": sorted((passage.get("ranks") or {}).items()),
                "title": passage.get("title") or "Untitled source",
                "link": web_link(passage.get("url")),
                "source": passage.get("url") or passage.get("file") or "",
                "page": passage.get("page"),
                "excerpt": Truncator(passage.get("text") or "").chars(400),
                "similarity": passage.get("similarity"),
                "relevant": passage.get("relevant", True),
            }
        )
    return {
        **result,
        "html": render_markdown(result.get("text") or ""),
        "citation_rows": citation_rows(result.get("citations")),
        "passage_rows": passages,
    }


@dashboard_page("widgets", manage=True)
def widget_playground(request, widget_id: int):
    widget = widget_for(widget_id)
    form = PlaygroundForm(request.POST or None)
    result = None
    if request.method == "POST" and form.is_valid():
        preview = answer_preview(tenant=request.tenant, widget=widget, question=form.cleaned_data["question"])
        result = _preview_rows(preview)
    context = shell_context(
        request, widget=widget, tabs=widget_tabs(widget, "playground"), form=form, result=result
    )
    return render(request, "chat/widget_playground.html", context)
