"""The notification emails, sent by tasks (``chat.tasks``) outside the request: the team
told of a visitor asking for a person, an assignee of a conversation given to them, an
away agent's digest of visitor replies, and an away visitor's email of the agents' replies
with the link back. Each respects the person's preferences (``AgentProfile.email_on_*``)
and the batched ones move their marker (``AgentProfile.replies_emailed_at``,
``Conversation.emailed_seq``) before sending, so overlapping runs never send twice.
Preconditions: the tenant's schema is active."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from saas.tenant_connection import connection
from tenants.models import Tenant, User
from ui.emails import email_send

from ..models import AgentProfile, Conversation, Message
from ..notifications import (
    assignment_recipient,
    conversation_url,
    current_tenant,
    handoff_recipients,
    members,
    resume_url,
    unread_visitor_messages,
    visitor_reply_batches,
)
from ..presence import ONLINE, agent_presence, agent_profile_for

# The same conversation state (its messages, the visitor's address) is announced to the
# team once: the offline form and the handoff it makes both ask for it.
TEAM_NOTIFIED_TTL = 3600


def _visitor_label(conversation: Conversation) -> str:
    contact = conversation.contact
    if contact is None:
        return "A visitor"
    return contact.name or conversation.notify_email or contact.email or "A visitor"


def team_handoff_email_send(*, conversation: Conversation) -> int:
    """Email every member who wants it that a visitor asked for a person (once per state
    of the conversation). Returns how many were sent."""
    started = conversation.created_at.timestamp()
    state = f"{started}:{conversation.last_seq}:{conversation.notify_email}"
    key = f"chat:team-notified:{connection.schema_name}:{conversation.pk}:{state}"
    if not cache.add(key, 1, TEAM_NOTIFIED_TTL):
        return 0
    tenant = current_tenant()
    recent = list(conversation.messages.filter(role=Message.Role.VISITOR).order_by("-seq")[:3])[::-1]
    context = {
        "conversation": conversation,
        "widget": conversation.widget,
        "tenant": tenant,
        "visitor": _visitor_label(conversation),
        "messages": recent,
        "url": conversation_url(tenant, conversation.pk),
    }
    sent = 0
    for person in handoff_recipients(conversation, tenant):
        sent += email_send(
            subject=f"A visitor asked for a person on {conversation.widget.name}",
            template="chat/email/team_handoff",
            context=context,
            to=[person.email],
        )
    return sent


def assignment_email_send(
    *, conversation: Conversation, assignee_user_id: int, by_user_id: int | None
) -> bool:
    """Tell the assignee a conversation was given to them (not when they took it)."""
    if assignee_user_id == by_user_id or conversation.assignee_user_id != assignee_user_id:
        return False
    tenant = current_tenant()
    person = assignment_recipient(tenant, assignee_user_id)
    if person is None:
        return False
    by = User.objects.filter(pk=by_user_id).values_list("email", flat=True).first() if by_user_id else None
    email_send(
        subject=f"A conversation was assigned to you in {tenant.name}",
        template="chat/email/assigned",
        context={
            "conversation": conversation,
            "widget": conversation.widget,
            "tenant": tenant,
            "visitor": _visitor_label(conversation),
            "by": by or "",
            "url": conversation_url(tenant, conversation.pk),
        },
        to=[person.email],
    )
    return True


def _claim_replies(user_id: int, until: datetime) -> tuple[bool, datetime | None]:
    """Move the agent's marker to ``until``: (claimed, the previous marker). Not claimed
    when another run moved it first."""
    profile, _ = AgentProfile.objects.get_or_create(user_id=user_id)
    before = profile.replies_emailed_at
    if before is not None and before >= until:
        return False, before
    claimed = AgentProfile.objects.filter(pk=profile.pk, replies_emailed_at=before).update(
        replies_emailed_at=until
    )
    return bool(claimed), before


def _digest_items(
    tenant: Tenant, by_conversation: dict[Conversation, list[Message]], since: datetime | None
) -> list[dict[str, Any]]:
    items = []
    for conversation, messages in by_conversation.items():
        new = [m for m in messages if since is None or m.created_at > since]
        if new:
            items.append(
                {
                    "conversation": conversation,
                    "visitor": _visitor_label(conversation),
                    "messages": new,
                    "url": conversation_url(tenant, conversation.pk),
                }
            )
    return items


def agent_replies_digest_send(*, now: datetime | None = None) -> int:
    """One email to each assignee who is away or offline listing the conversations with
    visitor messages they have not read, written since their last digest; the marker moves
    for everyone with new messages (an online agent saw them live). Returns emails sent."""
    until = now or timezone.now()
    found = unread_visitor_messages(until)
    if not found:
        return 0
    tenant = current_tenant()
    addresses = {p.user_id: p.email for p in members(tenant, list(found))}
    sent = 0
    for user_id, by_conversation in found.items():
        profile = agent_profile_for(user_id)
        items = _digest_items(tenant, by_conversation, profile.replies_emailed_at)
        if not items:
            continue  # nothing since the last digest: no write either
        claimed, before = _claim_replies(user_id, until)
        wants = profile.email_on_replies and agent_presence(profile, until) != ONLINE
        if not (claimed and wants) or before != profile.replies_emailed_at or user_id not in addresses:
            continue
        count = sum(len(item["messages"]) for item in items)
        sent += email_send(
            subject=f"{count} new visitor message{'s' if count != 1 else ''} in {tenant.name}",
            template="chat/email/agent_replies",
            context={"tenant": tenant, "items": items, "count": count},
            to=[addresses[user_id]],
        )
    return sent


def visitor_replies_email_send(*, now: datetime | None = None) -> int:
    """Email each away visitor who left an address the agents' replies they have not read
    (one email per conversation, with the link back), then move ``emailed_seq``."""
    sent = 0
    tenant_name = current_tenant().name
    for conversation, replies in visitor_reply_batches(now or timezone.now()):
        newest = replies[-1].seq
        claimed = Conversation.objects.filter(
            pk=conversation.pk, emailed_seq=conversation.emailed_seq
        ).update(emailed_seq=newest)
        if not claimed:
            continue
        names = sorted({m.author_name for m in replies if m.author_name})
        sent += email_send(
            subject=f"New reply from {names[0] if names else tenant_name}",
            template="chat/email/visitor_reply",
            context={
                "conversation": conversation,
                "widget": conversation.widget,
                "tenant_name": tenant_name,
                "messages": replies,
                "url": resume_url(conversation),
            },
            to=[conversation.notify_email],
        )
    return sent
