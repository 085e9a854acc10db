"""Assist in the inbox (tenant host). The composer's buttons call ``suggest`` and
``rewrite`` (JSON: the text goes into the composer, never sent by itself); the summary card
loads and refreshes ``summary``; ``translations`` gives the transcript in the agent's
language and queues what is missing; ``reply`` sends the composer's reply in the visitor's
language. Agents act; a support session only reads. Failures are problem details."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from chat.forms import ComposerForm
from chat.inbox import MANAGER_ROLES
from chat.models import Conversation, Message
from chat.services.inbox import agent_note_add
from chat.views_inbox import composer_submitted, conversation_of, inbox_tabs, may_reply
from saas.errors import ProblemError, problem_response
from saas.ratelimit import rate_limit_enforce
from saas.tenant_connection import connection
from tenants.dashboard import dashboard_page
from tenants.views import shell_context

from . import selectors, services, tasks
from .calls import any_model, has_model
from .forms import MemberLanguageForm, RewriteForm, TranslationSettingsForm
from .languages import language_name, request_language, same_language

logger = logging.getLogger(__name__)

TRANSLATED_MESSAGES = 50  # the newest visitor messages translated when an agent opens a conversation


def _acting(request: Any, conversation_id: int) -> Conversation:
    """The conversation, for a member who may reply in it, within their assist budget."""
    if not may_reply(request):
        raise PermissionDenied("Your role in this workspace reads conversations only.")
    conversation = conversation_of(request, conversation_id)
    rate_limit_enforce(
        request,
        "assist",
        limit=settings.ASSIST_RATE_PER_MINUTE,
        period_s=60,
        key=f"{connection.schema_name}:{request.user.pk}",
    )
    return conversation


def _assisted(result: services.Assisted) -> JsonResponse:
    return JsonResponse(
        {
            "text": result.text,
            "provider": result.provider,
            "offline": result.offline,
            "citations": [
                {"n": c["n"], "title": c["title"], "url": c["url"], "file": c["file"], "page": c["page"]}
                for c in result.citations
            ],
        }
    )


@require_POST
@dashboard_page("conversations")
def assist_suggest(request, conversation_id: int):
    try:
        conversation = _acting(request, conversation_id)
        return _assisted(services.assist_draft(tenant=request.tenant, conversation=conversation))
    except ProblemError as error:
        return problem_response(error)


@require_POST
@dashboard_page("conversations")
def assist_rewrite(request, conversation_id: int):
    form = RewriteForm(request.POST)
    form.is_valid()
    try:
        conversation = _acting(request, conversation_id)
        result = services.assist_rewrite(
            tenant=request.tenant,
            conversation=conversation,
            text=form.cleaned_data.get("text", ""),
            style=form.cleaned_data.get("style", ""),
        )
        return _assisted(result)
    except ProblemError as error:
        return problem_response(error)


@dashboard_page("conversations")
def assist_summary(request, conversation_id: int):
    """The summary card (a fragment for htmx, else a page); POST makes it again now."""
    error = ""
    if request.method == "POST":
        try:
            conversation = _acting(request, conversation_id)
            language = selectors.member_language(request.user.pk, request)
            services.conversation_summarise(
                tenant=request.tenant, conversation=conversation, reason="asked", language=language
            )
        except ProblemError as problem:
            error = problem.detail
        if not request.htmx:
            if error:
                messages.error(request, error)
            return redirect(reverse("assist:summary", kwargs={"conversation_id": conversation_id}))
    conversation = conversation_of(request, conversation_id)
    summary = selectors.conversation_summary(conversation)
    context = {
        "conversation": conversation,
        "summary": summary,
        "error": error or (summary.error if summary else ""),
        "may_reply": may_reply(request),
        "offline": not has_model(services.bot_of(conversation)),
    }
    if request.htmx:
        return render(request, "assist/_summary.html", context)
    return render(request, "assist/summary.html", shell_context(request, **context))


@require_GET
@dashboard_page("conversations")
def assist_translations(request, conversation_id: int):
    """The transcript's translations for this member: visitors' messages in their language
    (queued when missing: ``pending``) and their own translated replies as they wrote them."""
    conversation = conversation_of(request, conversation_id)
    language = selectors.member_language(request.user.pk, request)
    visitor = selectors.visitor_language(conversation)
    enabled = selectors.assist_settings().translation_enabled and has_model(services.bot_of(conversation))
    body: dict[str, Any] = {
        "enabled": enabled,
        "language": language,
        "language_name": language_name(language),
        "visitor_language": visitor,
        "visitor_language_name": language_name(visitor) if visitor else "",
        "reply_url": reverse("assist:reply", kwargs={"conversation_id": conversation.pk}),
        "translates_replies": bool(enabled and visitor and not same_language(visitor, language)),
        "messages": {},
        "pending": [],
    }
    if not enabled:
        return JsonResponse(body)
    visitors = list(
        Message.objects.filter(conversation=conversation, role=Message.Role.VISITOR)
        .order_by("-seq")
        .values_list("pk", "seq")[:TRANSLATED_MESSAGES]
    )
    found = selectors.translations_of([pk for pk, _ in visitors], language)
    missing = [pk for pk, _ in visitors if pk not in found or found[pk].state == found[pk].State.FAILED]
    if missing and may_reply(request) and not same_language(visitor, language):
        queued = set(tasks.translations_queue(missing, language))
        # Queued now, or earlier and not done yet: the page asks again.
        body["pending"] = [seq for pk, seq in visitors if pk in queued or pk not in found]
    for pk, seq in visitors:
        row = found.get(pk)
        if row is not None:
            body["messages"][seq] = {
                "kind": "visitor",
                "state": row.state,
                "text": row.text,
                "error": row.error,
            }
    agent_ids = Message.objects.filter(conversation=conversation, role=Message.Role.AGENT).values_list(
        "pk", "seq"
    )
    seqs = dict(agent_ids)
    for pk, row in selectors.reply_originals(seqs).items():
        body["messages"][seqs[pk]] = {
            "kind": "reply",
            "state": row.state,
            "text": row.text,
            "error": row.error,
            "sent_language": row.source_language,
            "sent_language_name": language_name(row.source_language),
        }
    return JsonResponse(body)


@require_POST
@dashboard_page("conversations")
def assist_reply(request, conversation_id: int):
    """The composer's reply sent in the visitor's language (a note is never translated);
    answered as chat's own reply endpoint answers."""
    if not may_reply(request):
        raise PermissionDenied("Your role in this workspace reads conversations only.")
    conversation = conversation_of(request, conversation_id)

    def send(form: ComposerForm) -> object:
        data = form.cleaned_data
        if data["kind"] == "note":
            return agent_note_add(conversation=conversation, user=request.user, text=data["text"])
        return services.agent_reply_translated_send(
            tenant=request.tenant,
            conversation=conversation,
            user=request.user,
            text=data["text"],
            language=selectors.member_language(request.user.pk, request),
            uploads=request.FILES.getlist("attachments"),
            client_message_id=data.get("client_message_id") or None,
        )

    return composer_submitted(request, conversation, send)


@dashboard_page("conversations")
def assist_settings_page(request):
    """Translation on or off for the workspace (owners and admins), and each member's language."""
    manages = request.membership.role in MANAGER_ROLES and request.support_access is None
    current = selectors.assist_settings()
    possible = any_model()
    posted = request.POST.get("form", "") if request.method == "POST" else ""
    settings_form = TranslationSettingsForm(
        request.POST if posted == "translation" else None,
        initial={"translation_enabled": current.translation_enabled},
    )
    language_form = MemberLanguageForm(
        request.POST if posted == "language" else None,
        initial={"language": selectors.member_language_choice(request.user.pk)},
    )
    if posted == "translation":
        if not manages:
            raise PermissionDenied("Owners and admins change the workspace's translation.")
        if settings_form.is_valid():
            try:
                services.assist_settings_update(
                    request=request, translation_enabled=settings_form.cleaned_data["translation_enabled"]
                )
            except ProblemError as error:
                settings_form.add_error(None, (error.errors and _first(error.errors)) or error.detail)
            else:
                messages.success(request, "Translation settings saved.")
                return redirect("assist:settings")
    elif posted == "language" and language_form.is_valid():
        services.member_language_set(user_id=request.user.pk, language=language_form.cleaned_data["language"])
        messages.success(request, "Your language is saved.")
        return redirect("assist:settings")
    context = shell_context(
        request,
        settings_form=settings_form,
        language_form=language_form,
        manages=manages,
        possible=possible,
        enabled=current.translation_enabled,
        browser_language=language_name(request_language(request)),
        tabs=inbox_tabs(request, "assist"),
    )
    return render(request, "assist/settings.html", context)


def _first(errors: dict[str, list[dict[str, str]]]) -> str:
    return next((e["message"] for errs in errors.values() for e in errs), "")
