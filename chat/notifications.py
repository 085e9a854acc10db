"""Who is told what, and the links they follow: the reads behind the notification emails
(``chat.services.notification_emails`` sends them). Preconditions: the tenant's schema is
active (its public tables, members and users, are on the search path).

Links: the conversation page on the workspace's host, and the resume page on the public
host with the resume token in the URL fragment (``chat.resume_tokens``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.urls import reverse

from saas.tenant_connection import connection
from tenants.models import Membership, Tenant

from .models import AgentProfile, Conversation, Message
from .presence import conversation_visible
from .resume_tokens import resume_token_issue

# Agent messages wait this long before they are emailed to an away visitor (more may come).
VISITOR_EMAIL_DELAY = timedelta(minutes=2)
# A visitor whose widget reported in this recently is there (the socket updates it).
VISITOR_PRESENT = timedelta(seconds=60)
# Visitor messages older than this are not collected into an agent's digest.
DIGEST_LOOKBACK = timedelta(days=2)


@dataclass(frozen=True)
class Recipient:
    user_id: int
    email: str
    role: str


def current_tenant() -> Tenant:
    return Tenant.objects.get(schema_name=connection.schema_name)


def workspace_url(tenant: Tenant, path: str) -> str:
    domain = tenant.domains.filter(is_primary=True).values_list("domain", flat=True).first()
    return f"https://{domain or f'{tenant.slug}.{settings.BASE_DOMAIN}'}{path}"


def conversation_url(tenant: Tenant, conversation_id: int) -> str:
    return workspace_url(tenant, reverse("chat:conversation", args=[conversation_id]))


def resume_url(conversation: Conversation) -> str:
    """The public resume page of the conversation's widget, the token in the fragment."""
    contact = conversation.contact
    token = resume_token_issue(
        schema=connection.schema_name,
        widget_id=conversation.widget_id,
        contact_public_id=str(contact.public_id) if contact is not None else "",
        conversation_id=conversation.pk,
    )
    path = reverse("chat:resume-page", args=[conversation.widget.key], urlconf=settings.PUBLIC_SCHEMA_URLCONF)
    return f"https://{settings.BASE_DOMAIN}{path}#resume={token}"


def members(tenant: Tenant, user_ids: list[int] | None = None) -> list[Recipient]:
    """The workspace's active members with an address (owners, admins, agents)."""
    rows = Membership.objects.filter(tenant=tenant, user__is_active=True).exclude(user__email="")
    if user_ids is not None:
        rows = rows.filter(user_id__in=user_ids)
    return [
        Recipient(user_id, email, role)
        for user_id, email, role in rows.order_by("user_id").values_list("user_id", "user__email", "role")
    ]


def _profiles(user_ids: list[int]) -> dict[int, AgentProfile]:
    found = {p.user_id: p for p in AgentProfile.objects.filter(user_id__in=user_ids)}
    return {uid: found.get(uid) or AgentProfile(user_id=uid) for uid in user_ids}


def handoff_recipients(conversation: Conversation, tenant: Tenant) -> list[Recipient]:
    """Members who want an email when a visitor asks for a person while nobody is online,
    and may see this conversation (agents, per the inbox's visibility)."""
    people = members(tenant)
    profiles = _profiles([p.user_id for p in people])
    return [
        person
        for person in people
        if profiles[person.user_id].email_on_handoff
        and conversation_visible(conversation, user_id=person.user_id, role=person.role)
    ]


def assignment_recipient(tenant: Tenant, user_id: int) -> Recipient | None:
    """The assignee, if still a member who wants an email for assignments."""
    found = members(tenant, [user_id])
    if not found or not _profiles([user_id])[user_id].email_on_assigned:
        return None
    return found[0]


def unread_visitor_messages(until: datetime) -> dict[int, dict[Conversation, list[Message]]]:
    """Visitor messages the assignee has not read, by assignee then conversation (oldest
    first), written before ``until`` and within the look-back."""
    messages = (
        Message.objects.filter(
            role=Message.Role.VISITOR,
            created_at__lte=until,
            created_at__gt=until - DIGEST_LOOKBACK,
            conversation__assignee_user_id__isnull=False,
            seq__gt=F("conversation__agent_read_seq"),
        )
        .exclude(conversation__status=Conversation.Status.CLOSED)
        .select_related("conversation__contact", "conversation__widget")
        .order_by("conversation_id", "seq")
    )
    found: dict[int, dict[Conversation, list[Message]]] = defaultdict(lambda: defaultdict(list))
    for message in messages:
        conversation = message.conversation
        found[conversation.assignee_user_id or 0][conversation].append(message)
    return found


def visitor_reply_batches(now: datetime) -> list[tuple[Conversation, list[Message]]]:
    """Conversations whose visitor left an address and is away, with the agent messages
    they have not read nor been emailed, once the oldest of them is a couple of minutes
    old (so replies written together go in one email)."""
    conversations = (
        Conversation.objects.exclude(notify_email="")
        .filter(last_seq__gt=F("emailed_seq"))
        .filter(Q(visitor_seen_at__isnull=True) | Q(visitor_seen_at__lt=now - VISITOR_PRESENT))
        .annotate(sent_up_to=Greatest("emailed_seq", "visitor_read_seq"))
        .filter(
            messages__role=Message.Role.AGENT,
            messages__seq__gt=F("sent_up_to"),
            messages__created_at__lte=now - VISITOR_EMAIL_DELAY,
        )
        .select_related("contact", "widget")
        .distinct()
        .order_by("pk")
    )
    batches: list[tuple[Conversation, list[Message]]] = []
    for conversation in conversations:
        sent_up_to = getattr(conversation, "sent_up_to", conversation.emailed_seq)
        replies = list(
            conversation.messages.filter(
                role=Message.Role.AGENT, seq__gt=sent_up_to, created_at__lte=now
            ).order_by("seq")
        )
        if replies:
            batches.append((conversation, replies))
    return batches
