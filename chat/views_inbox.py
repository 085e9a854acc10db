"""The agents' inbox (tenant host): the list of conversations by view with filters and
search, a conversation with its contact and the composer, the actions on a conversation,
canned replies, the inbox settings and each member's preferences.

Every action posts to an endpoint that calls one service of ``chat.services.inbox`` and
answers with a redirect and a message (an htmx post of the composer gets the composer back);
everything works without JavaScript. Agents act; a support session only reads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from saas.errors import ProblemError
from tenants.dashboard import dashboard_page
from tenants.views import shell_context

from . import inbox
from .forms import ComposerForm, InboxFilterForm, SnoozeForm
from .models import Conversation, Message
from .selectors import conversation_last_messages
from .services import conversation_delete
from .services import inbox as inbox_service
from .services.agent_files import agent_reply_with_files
from .views import contact_label, conversation_row, message_rows, usage_summary, web_link

logger = logging.getLogger(__name__)

PER_PAGE = 50
REPLY_ROLES = frozenset({"owner", "admin", "agent"})
DELETE_ROLES = frozenset({"owner", "admin"})


# --- helpers ---------------------------------------------------------------------------


def viewer(request: Any) -> tuple[int, str]:
    return request.user.pk, request.membership.role


def may_reply(request: Any) -> bool:
    return request.membership.role in REPLY_ROLES and request.support_access is None


def may_delete(request: Any) -> bool:
    return request.membership.role in DELETE_ROLES and request.support_access is None


def conversation_of(request: Any, conversation_id: int) -> Conversation:
    user_id, role = viewer(request)
    conversation = inbox.conversation_visible(conversation_id=conversation_id, user_id=user_id, role=role)
    if conversation is None:
        raise Http404
    return conversation


def inbox_tabs(request: Any, current: str) -> list[tuple[str, str, bool]]:
    tabs = [
        (reverse("chat:conversations"), "Inbox", current == "inbox"),
        (reverse("chat:canned-replies"), "Canned replies", current == "canned"),
    ]
    if request.membership.role in inbox.MANAGER_ROLES or request.membership.role == "support":
        tabs.append((reverse("chat:inbox-settings"), "Inbox settings", current == "settings"))
    tabs.append((reverse("chat:inbox-preferences"), "My preferences", current == "preferences"))
    # The assist app's page (it sits above chat and links back through these tabs).
    tabs.append((reverse("assist:settings"), "Assist and translation", current == "assist"))
    return tabs


# --- the list --------------------------------------------------------------------------


@dashboard_page("conversations")
def conversation_list(request):
    user_id, role = viewer(request)
    members = inbox.workspace_members(request.tenant)
    names = {m.user_id: m.name for m in members}
    form = InboxFilterForm(
        request.GET or None, views=list(inbox.VIEWS), members=[(m.user_id, m.name) for m in members]
    )
    filters = form.inbox_filters()
    page = Paginator(inbox.inbox_conversations(filters, user_id=user_id, role=role), PER_PAGE).get_page(
        request.GET.get("page")
    )
    now = timezone.now()
    last = conversation_last_messages([c.pk for c in page.object_list])
    rows = []
    for c in page.object_list:
        row = conversation_row(c, last.get(c.pk), now)
        row["assignee"] = names.get(c.assignee_user_id or 0, "Former member" if c.assignee_user_id else "")
        row["mine"] = c.assignee_user_id == user_id
        row["unread"] = c.last_visitor_seq > c.agent_read_seq and c.status not in inbox.QUIET_STATUSES
        rows.append(row)
    counts = inbox.inbox_counts(user_id=user_id, role=role, now=now)
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("view", None)
    views = [
        {
            "key": key,
            "label": label,
            "count": counts.get(key),
            "current": key == filters.view,
            "query": query.urlencode(),
        }
        for key, label in inbox.VIEWS
    ]
    context = shell_context(
        request,
        filters=form,
        filter_fields=[form[name] for name in form.FILTERS],
        view=filters.view,
        view_label=dict(inbox.VIEWS)[filters.view],
        views=views,
        counts=counts,
        active_filters=form.active_filters(),
        is_filtered=bool(filters.q) or form.active_filters() > 0,
        search=filters.q,
        page=page,
        rows=rows,
        tabs=inbox_tabs(request, "inbox"),
        usage=usage_summary(request.tenant) if role in inbox.MANAGER_ROLES else None,
    )
    if request.htmx and request.htmx.target == "inbox-list":
        return render(request, "chat/inbox/_list.html", context)
    return render(request, "chat/inbox/list.html", context)


# --- a conversation --------------------------------------------------------------------


def _contact_context(conversation: Conversation) -> dict[str, Any]:
    contact = conversation.contact
    return {
        "contact": contact,
        "contact_name": contact_label(contact),
        "display_name": ((contact.name or contact.email) if contact else "") or "Visitor",
        "answers": sorted((contact.answers or {}).items())
        if contact and isinstance(contact.answers, dict)
        else [],
        "page_link": web_link(contact.page_url) if contact else "",
        "referrer_link": web_link(contact.referrer) if contact else "",
    }


def _canned(request: Any, conversation: Conversation, agent_name: str) -> list[dict[str, str]]:
    contact = conversation.contact
    variables = {
        "contact.name": (contact.name if contact else "") or "",
        "contact.email": (contact.email if contact else "") or "",
        "agent.name": agent_name,
        "workspace.name": request.tenant.name,
    }
    return [
        {"shortcut": r.shortcut, "title": r.title, "text": inbox.canned_fill(r.text, variables)}
        for r in inbox.canned_replies()
    ]


def _seen_seq(rows: list[dict[str, Any]], visitor_read_seq: int) -> int | None:
    """The last agent message the visitor has read ("Seen" goes under it)."""
    seen = [
        r["message"].seq
        for r in rows
        if r["message"].role == "agent" and r["message"].seq <= visitor_read_seq
    ]
    return seen[-1] if seen else None


@dashboard_page("conversations")
def conversation_detail(request, conversation_id: int):
    conversation = conversation_of(request, conversation_id)
    user_id, role = viewer(request)
    members = inbox.workspace_members(request.tenant)
    names = {m.user_id: m.name for m in members}
    me = names.get(user_id, request.user.email)
    rows = message_rows(conversation)
    if may_reply(request) and conversation.last_seq > conversation.agent_read_seq:
        inbox_service.conversation_read(conversation=conversation, side="agent", seq=conversation.last_seq)
    zone = _zone(request)
    context = shell_context(
        request,
        conversation=conversation,
        **_contact_context(conversation),
        stars=range(1, 6),
        rows=rows,
        last_seq=rows[-1]["message"].seq if rows else 0,
        seen_seq=_seen_seq(rows, conversation.visitor_read_seq),
        history=inbox.contact_history(conversation, user_id=user_id, role=role),
        assignee_name=names.get(conversation.assignee_user_id or 0, ""),
        is_mine=conversation.assignee_user_id == user_id,
        members=members,
        may_reply=may_reply(request),
        may_delete=may_delete(request),
        composer=ComposerForm(initial={"kind": "reply"}),
        canned=_canned(request, conversation, me),
        snooze_presets=inbox.snooze_presets(timezone.now(), zone),
        snooze_form=SnoozeForm(),
        snoozed=bool(conversation.snoozed_until and conversation.snoozed_until > timezone.now()),
        zone_name=str(zone),
        tabs=inbox_tabs(request, "inbox"),
    )
    return render(request, "chat/inbox/conversation.html", context)


@require_GET
@dashboard_page("conversations")
def conversation_messages(request, conversation_id: int):
    """The messages after ``?after=<seq>`` as the transcript's list items (for inbox.js)."""
    conversation = conversation_of(request, conversation_id)
    try:
        after = max(0, int(request.GET.get("after", "0")))
    except ValueError:
        after = 0
    rows = [r for r in message_rows(conversation) if r["message"].seq > after]
    context = {
        "rows": rows,
        "conversation": conversation,
        "seen_seq": None,
        **_contact_context(conversation),
    }
    return render(request, "chat/inbox/_messages.html", context)


def _zone(request: Any) -> ZoneInfo:
    try:
        return ZoneInfo(request.tenant.time_zone or "UTC")
    except (ValueError, KeyError):
        return ZoneInfo("UTC")


# --- actions ---------------------------------------------------------------------------


def _act(request: Any, conversation_id: int, do: Callable[[Conversation], object], done: str) -> HttpResponse:
    """Run one service on the conversation and go back to it with what happened."""
    if not may_reply(request):
        raise PermissionDenied("Your role in this workspace reads conversations only.")
    conversation = conversation_of(request, conversation_id)
    try:
        do(conversation)
    except ProblemError as error:
        messages.error(request, error.detail)
    else:
        logger.info("inbox action conversation=%s by=%s: %s", conversation.pk, request.user.pk, done)
        messages.success(request, done)
    return redirect("chat:conversation", conversation_id=conversation.pk)


@require_POST
@dashboard_page("conversations")
def conversation_reply(request, conversation_id: int):
    """A reply or a private note from the composer (attachments with a reply)."""
    if not may_reply(request):
        raise PermissionDenied("Your role in this workspace reads conversations only.")
    conversation = conversation_of(request, conversation_id)
    return composer_submitted(request, conversation, lambda form: _send(request, conversation, form))


def composer_submitted(
    request: Any, conversation: Conversation, send: Callable[[ComposerForm], object]
) -> HttpResponse:
    """The composer's form read and handed to ``send`` (a reply or a note); answered as the
    composer expects: its fields again for htmx (fresh once sent, with ``inbox:sent``), else
    the conversation's page with the problems as messages. Shared with the apps that send
    the composer's replies their own way (assist's translated replies)."""
    form = ComposerForm(request.POST, request.FILES)
    sent = False
    if form.is_valid():
        try:
            send(form)
        except ProblemError as error:
            form.add_error(None, error.detail)
        else:
            sent = True
    if request.htmx:
        fresh = ComposerForm(initial={"kind": form.cleaned_data.get("kind", "reply")}) if sent else form
        response = render(
            request,
            "chat/inbox/_composer_fields.html",
            {"composer": fresh, "conversation": conversation, "may_reply": True},
        )
        if sent:
            response["HX-Trigger"] = "inbox:sent"
        return response
    if sent:
        return redirect(
            reverse("chat:conversation", kwargs={"conversation_id": conversation.pk}) + "#composer"
        )
    for problem in [*form.non_field_errors(), *form.errors.get("text", [])]:
        messages.error(request, problem)
    return redirect("chat:conversation", conversation_id=conversation.pk)


def _send(request: Any, conversation: Conversation, form: ComposerForm) -> Message:
    data = form.cleaned_data
    if data["kind"] == "note":
        return inbox_service.agent_note_add(conversation=conversation, user=request.user, text=data["text"])
    uploads = request.FILES.getlist("attachments")
    if uploads:
        return agent_reply_with_files(
            conversation=conversation,
            user=request.user,
            text=data["text"],
            uploads=uploads,
            client_message_id=data.get("client_message_id") or None,
        )
    return inbox_service.agent_reply_send(
        conversation=conversation,
        user=request.user,
        text=data["text"],
        client_message_id=data.get("client_message_id") or None,
    )


@require_POST
@dashboard_page("conversations")
def conversation_assign(request, conversation_id: int):
    value = request.POST.get("assignee", "")
    if value == "me":
        assignee: int | None = request.user.pk
    elif value.isdigit():
        assignee = int(value)
        if assignee not in {m.user_id for m in inbox.workspace_members(request.tenant)}:
            messages.error(request, "Choose a member of this workspace.")
            return redirect("chat:conversation", conversation_id=conversation_id)
    else:
        assignee = None
    done = "Unassigned." if assignee is None else "Assigned."
    return _act(
        request,
        conversation_id,
        lambda c: inbox_service.conversation_assign(
            conversation=c, assignee_user_id=assignee, by=request.user
        ),
        done,
    )


@require_POST
@dashboard_page("conversations")
def conversation_take_over(request, conversation_id: int):
    return _act(
        request,
        conversation_id,
        lambda c: inbox_service.conversation_take_over(conversation=c, user=request.user),
        "You have the conversation: the bot stops answering.",
    )


@require_POST
@dashboard_page("conversations")
def conversation_hand_back(request, conversation_id: int):
    return _act(
        request,
        conversation_id,
        lambda c: inbox_service.conversation_hand_back(conversation=c, by=request.user),
        "Handed back to the bot.",
    )


@dashboard_page("conversations")
def conversation_delete_page(request, conversation_id: int):
    """Ask, then delete the conversation for good with its messages, attachments and files
    (owners and admins; ``chat.services.conversation_delete``, audited)."""
    if not may_delete(request):
        raise PermissionDenied("Only owners and admins delete conversations.")
    conversation = conversation_of(request, conversation_id)
    if request.method == "POST":
        removed = conversation_delete(conversation=conversation, request=request)
        messages.success(
            request,
            f"Conversation #{conversation_id} deleted with its {removed.messages} message"
            f"{'' if removed.messages == 1 else 's'} and {removed.attachments} attachment"
            f"{'' if removed.attachments == 1 else 's'}.",
        )
        return redirect("chat:conversations")
    context = shell_context(
        request,
        conversation=conversation,
        message_count=conversation.messages.count(),
        attachment_count=conversation.attachment_files.count(),
        **_contact_context(conversation),
    )
    return render(request, "chat/inbox/conversation_delete.html", context)


@require_POST
@dashboard_page("conversations")
def conversation_resolve(request, conversation_id: int):
    return _act(
        request,
        conversation_id,
        lambda c: inbox_service.conversation_resolve(conversation=c, by=request.user),
        "Resolved.",
    )


@require_POST
@dashboard_page("conversations")
def conversation_reopen(request, conversation_id: int):
    return _act(
        request,
        conversation_id,
        lambda c: inbox_service.conversation_reopen(conversation=c, by=request.user),
        "Reopened.",
    )


@require_POST
@dashboard_page("conversations")
def conversation_pending(request, conversation_id: int):
    return _act(
        request,
        conversation_id,
        lambda c: inbox_service.conversation_mark_pending(conversation=c, by=request.user),
        "Marked pending: waiting on the visitor.",
    )


def snooze_until(request: HttpRequest, zone: ZoneInfo) -> datetime | None:
    """The time a snooze form asks for: a preset, or the custom time in the workspace's
    time zone; None when it is missing or not in the future."""
    form = SnoozeForm(request.POST)
    if not form.is_valid():
        return None
    now = timezone.now()
    presets = {key: until for key, _, until in inbox.snooze_presets(now, zone)}
    preset = form.cleaned_data.get("preset") or ""
    if preset in presets:
        return presets[preset]
    until = form.cleaned_data.get("until")
    if until is None:
        return None
    # The form read the wall-clock time in the server's zone: it was meant in the workspace's.
    wall = timezone.make_naive(until) if timezone.is_aware(until) else until
    until = wall.replace(tzinfo=zone)
    return until if until > now else None


@require_POST
@dashboard_page("conversations")
def conversation_snooze(request, conversation_id: int):
    zone = _zone(request)
    until = snooze_until(request, zone)
    if until is None:
        messages.error(request, "Choose when the conversation comes back: a time in the future.")
        return redirect("chat:conversation", conversation_id=conversation_id)
    label = timezone.localtime(until, zone).strftime("%a %b %-d, %H:%M")
    return _act(
        request,
        conversation_id,
        lambda c: inbox_service.conversation_snooze(conversation=c, until=until, by=request.user),
        f"Snoozed until {label}.",
    )
