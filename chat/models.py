"""Conversations, their messages, the bot's settings and automations: all in the tenant's
schema. The answer pipeline that fills them is ``chat.answering``."""

import uuid

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.dispatch import Signal
from django.utils import timezone

from saas.tenant_connection import connection

# Sent once a change a tenant may be told about has committed (``chat_event_send``):
# ``event_type`` is the webhook event type ("conversation.created", "message.created",
# "conversation.handoff_requested", "conversation.assigned", "conversation.resolved",
# "conversation.rated", "message.feedback", "contact.created", "contact.updated"), ``schema``
# the tenant's schema at the change, and ids (``conversation_id``, ``message_id``,
# ``contact_id``, ``by_user_id``). The webhooks app listens, without chat importing it.
chat_event = Signal()


def chat_event_send(event_type: str, **ids: int | None) -> None:
    """Send :data:`chat_event` after the current transaction commits (at once outside one)."""
    schema = connection.schema_name
    transaction.on_commit(
        lambda: chat_event.send(sender=Conversation, event_type=event_type, schema=schema, **ids)
    )


class Contact(models.Model):
    """A visitor of a widget, and what they told us (prechat answers, consent). Created
    when the widget starts a visitor session; the visitor's bearer token names it."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    widget = models.ForeignKey("widget_builder.Widget", on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=120, blank=True, default="")
    email = models.EmailField(blank=True, default="")
    phone = models.CharField(max_length=20, blank=True, default="")
    country = models.CharField(max_length=2, blank=True, default="")
    answers = models.JSONField(default=dict, blank=True)
    consent_given_at = models.DateTimeField(null=True, blank=True)
    consent_text = models.CharField(max_length=500, blank=True, default="")
    consent_version = models.PositiveIntegerField(null=True, blank=True)
    page_url = models.URLField(max_length=2000, blank=True, default="")
    referrer = models.URLField(max_length=2000, blank=True, default="")
    user_agent = models.CharField(max_length=400, blank=True, default="")
    locale = models.CharField(max_length=16, blank=True, default="")

    class EmailSource(models.TextChoices):
        UNKNOWN = "", "Unknown (stored before sources were recorded)"
        PRECHAT = "prechat", "The prechat form"
        VERIFIED = "verified", "A verified identity"
        UNSIGNED = "unsigned", "An unsigned identify call"

    # Where ``email`` came from: transcripts go only to a form's or a verified identity's.
    email_source = models.CharField(max_length=8, choices=EmailSource.choices, blank=True, default="")
    # Set by identify: the customer's own user id, and whether its signature was verified.
    external_id = models.CharField(max_length=200, blank=True, default="", db_index=True)
    identity_verified = models.BooleanField(default=False)
    prechat_submitted_at = models.DateTimeField(null=True, blank=True)
    flagged_as_bot = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.email or self.name or f"Visitor {self.public_id}"


TITLE_MAX_CHARS = 120


class Conversation(models.Model):
    class Status(models.TextChoices):
        BOT = "bot", "With the bot"
        WAITING = "waiting", "Waiting for an agent"
        AGENT = "agent", "With an agent"
        PENDING = "pending", "Pending: waiting on the visitor"
        CLOSED = "closed", "Resolved"

    widget = models.ForeignKey(
        "widget_builder.Widget", on_delete=models.PROTECT, related_name="conversations"
    )
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.BOT, db_index=True)
    # The visitor's name for it (renamed in the widget); blank: the first visitor message,
    # cut, or its date (chat.widget_api.selectors.conversation_title).
    title = models.CharField(max_length=TITLE_MAX_CHARS, blank=True, default="")
    # Highest sequence number given to a message; bumped under a row lock (chat.services).
    last_seq = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    handoff_requested_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # CSAT, asked when the conversation closes.
    csat_score = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    csat_comment = models.CharField(max_length=1000, blank=True, default="")
    csat_at = models.DateTimeField(null=True, blank=True)
    transcript_sent_at = models.DateTimeField(null=True, blank=True)

    # The live inbox (chat.services.inbox). Users live in the public schema: their ids are
    # kept as plain numbers (a foreign key across schemas would make deleting a user look
    # for this table in public).
    assignee_user_id = models.PositiveIntegerField(null=True, blank=True, db_index=True)
    assigned_at = models.DateTimeField(null=True, blank=True)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    # Read receipts: the highest number each side has seen; the seq of the last visitor
    # message (unread for agents while above ``agent_read_seq``).
    agent_read_seq = models.PositiveIntegerField(default=0)
    visitor_read_seq = models.PositiveIntegerField(default=0)
    last_visitor_seq = models.PositiveIntegerField(default=0)
    last_message_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # The visitor's address for replies while they are away (the offline message), and
    # the newest message already emailed to them.
    notify_email = models.EmailField(blank=True, default="")
    emailed_seq = models.PositiveIntegerField(default=0)
    visitor_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-last_message_at"], name="conversation_inbox_idx"),
            # The navigation's unread badge (chat.inbox.unread_badge) on every dashboard page:
            # only the rows it counts, however many conversations are open, read or closed.
            # Its condition is the badge's filter, word for word, so the planner can use it.
            models.Index(
                fields=["widget", "snoozed_until"],
                name="conversation_unread_idx",
                condition=models.Q(status__in=("waiting", "agent", "pending"))
                & models.Q(last_visitor_seq__gt=models.F("agent_read_seq")),
            ),
            # A visitor's own conversations, newest activity first (the widget's list).
            models.Index(fields=["contact", "-updated_at", "-id"], name="conversation_visitor_idx"),
        ]

    def __str__(self) -> str:
        return f"Conversation {self.pk}"


class Message(models.Model):
    """One message in a conversation. ``seq`` numbers them 1, 2, 3… per conversation, so a
    reconnecting client asks for everything after the last number it saw."""

    class Role(models.TextChoices):
        VISITOR = "visitor", "Visitor"
        BOT = "bot", "Bot"
        AGENT = "agent", "Agent"
        SYSTEM = "system", "System"
        NOTE = "note", "Private note"  # agents only: never listed or sent to visitors

    VISITOR_HIDDEN = (Role.NOTE,)

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    seq = models.PositiveIntegerField()
    role = models.CharField(max_length=8, choices=Role.choices)
    text = models.TextField()
    citations = models.JSONField(default=list, blank=True)
    attachments = models.JSONField(default=list, blank=True)
    # Sent by the client so a retried or doubled send stores one message.
    client_message_id = models.CharField(max_length=64, blank=True, default="")
    tokens_in = models.PositiveIntegerField(null=True, blank=True)
    tokens_out = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)  # to the first token
    created_at = models.DateTimeField(default=timezone.now)
    # Agent messages and notes: who wrote them (a user id of the public schema) and the
    # name visitors see, kept as it was when written.
    author_user_id = models.PositiveIntegerField(null=True, blank=True)
    author_name = models.CharField(max_length=120, blank=True, default="")

    # Bot answers: the visitor message answered (at most one answer each), how it ended,
    # what produced it and what it cost.
    reply_to = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reply"
    )
    outcome = models.CharField(max_length=12, blank=True, default="")  # chat.answering.Outcome
    provider = models.CharField(max_length=24, blank=True, default="")
    model = models.CharField(max_length=100, blank=True, default="")
    cost_usd = models.DecimalField(max_digits=10, decimal_places=6, null=True, blank=True)
    automation_rule = models.ForeignKey(
        "AutomationRule", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    # Visitor feedback on a bot answer: +1 / -1 with an optional comment.
    # A card the widget shows under a bot message (an AI action's confirmation or form,
    # chat.answering.cards): its visitor-facing part and, for agents and the history, the
    # tool call it stands for.
    card = models.JSONField(null=True, blank=True)
    feedback_rating = models.SmallIntegerField(null=True, blank=True)
    feedback_comment = models.CharField(max_length=1000, blank=True, default="")
    feedback_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["conversation", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="message_seq_unique"),
            models.UniqueConstraint(
                fields=["conversation", "client_message_id"],
                condition=~models.Q(client_message_id=""),
                name="message_client_id_unique",
            ),
        ]
        indexes = [
            GinIndex(SearchVector("text", config="simple"), name="message_text_search_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.conversation_id}#{self.seq} {self.role}"


class BotSettings(models.Model):
    """How a widget's bot answers (dashboard: widget > Bot). Defaults work on first run:
    the platform's provider (offline until one is configured), answers from the knowledge
    base only, a human handoff offered when there is no good answer."""

    class Provider(models.TextChoices):
        PLATFORM = "platform", "Platform default"
        ANTHROPIC = "anthropic", "Anthropic"
        OPENAI = "openai", "OpenAI"
        OPENAI_COMPATIBLE = "openai_compatible", "OpenAI-compatible server (Ollama, vLLM, …)"
        OFFLINE = "offline", "Offline: quote the knowledge base"

    class KeySource(models.TextChoices):
        PLATFORM = "platform", "Platform key (counts against plan credits)"
        OWN = "own", "Our own key"

    class Language(models.TextChoices):
        VISITOR = "visitor", "Answer in the visitor's language"
        WIDGET = "widget", "Always answer in the widget's language"

    widget = models.OneToOneField("widget_builder.Widget", on_delete=models.CASCADE, related_name="bot")
    provider = models.CharField(max_length=24, choices=Provider.choices, default=Provider.PLATFORM)
    model = models.CharField(max_length=100, blank=True, default="")  # blank: the provider's default
    base_url = models.URLField(max_length=300, blank=True, default="")  # OpenAI-compatible servers
    key_source = models.CharField(max_length=12, choices=KeySource.choices, default=KeySource.PLATFORM)
    # The tenant's own key, encrypted (saas.crypto); only its hint is ever shown again.
    api_key_encrypted = models.TextField(blank=True, default="")
    api_key_hint = models.CharField(max_length=8, blank=True, default="")
    temperature = models.FloatField(default=0.3, validators=[MinValueValidator(0), MaxValueValidator(1)])
    max_answer_tokens = models.PositiveIntegerField(
        default=600, validators=[MinValueValidator(50), MaxValueValidator(4000)]
    )
    persona = models.TextField(
        max_length=4000,
        blank=True,
        default="You are a friendly, concise support assistant. Keep answers short and practical.",
    )
    language = models.CharField(max_length=8, choices=Language.choices, default=Language.VISITOR)
    knowledge_only = models.BooleanField(default=True)  # False: may use general knowledge
    no_answer_text = models.CharField(
        max_length=500, default="I'm sorry, I don't have a good answer to that yet."
    )
    unavailable_text = models.CharField(
        max_length=500, default="Sorry, I can't answer right now. Please try again in a moment."
    )
    offer_handoff = models.BooleanField(default=True)
    # People answer on this widget: the widget's menu offers "Talk to a person" (when
    # someone could answer) and requests in words are recognised.
    human_support = models.BooleanField(default=True)
    # Phrases that ask for a person, by language ({"en": [...], ...}); a language left out
    # uses the shipped list (chat.handoff_phrases).
    handoff_phrases = models.JSONField(default=dict, blank=True)
    knowledge_bases = models.ManyToManyField("knowledge.KnowledgeBase", blank=True, related_name="bots")
    # Visitor attachments: kinds among image/pdf/text, and a size limit.
    attachment_kinds = models.JSONField(default=list, blank=True)
    attachment_max_mb = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(20)]
    )
    # The bot reads a visitor's attached CSV, JSON, text, Markdown and PDF files as context
    # for that conversation (docs/files.md). Off until an admin turns it on: it sends what
    # visitors attach to the workspace's AI provider.
    files_as_context = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Bot of {self.widget_id}"


class AutomationRule(models.Model):
    """Tried before the LLM, in ``position`` order: the greeting when a conversation opens,
    the offline reply outside business hours, then keyword and regex rules."""

    class Kind(models.TextChoices):
        GREETING = "greeting", "Greeting when a conversation opens"
        OFFLINE = "offline", "Auto-reply outside business hours"
        KEYWORD = "keyword", "Keywords"
        REGEX = "regex", "Regular expression"

    widget = models.ForeignKey("widget_builder.Widget", on_delete=models.CASCADE, related_name="automations")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    name = models.CharField(max_length=120)
    pattern = models.CharField(max_length=500, blank=True, default="")  # keywords: comma separated
    reply = models.TextField(max_length=4000)
    # Keyword/regex rules: answer with the reply instead of the LLM (else reply, then the LLM).
    replaces_answer = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)
    is_enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class AutomationFiring(models.Model):
    """The log of automations that fired."""

    rule = models.ForeignKey(AutomationRule, on_delete=models.CASCADE, related_name="firings")
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="automation_firings"
    )
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL)
    fired_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-fired_at", "-id"]

    def __str__(self) -> str:
        return f"{self.rule_id} in {self.conversation_id}"


def attachment_path(instance: "Attachment", filename: str) -> str:
    # Never the visitor's file name: no traversal, no collisions. The storage adds the
    # tenant's prefix (saas.storage).
    return f"chat/attachments/{instance.conversation_id}/{uuid.uuid4().hex}"


class Attachment(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="attachment_files")
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="attachment_files"
    )
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    file = models.FileField(upload_to=attachment_path, max_length=300)
    name = models.CharField(max_length=200)  # shown only, cleaned
    content_type = models.CharField(max_length=60)  # from the bytes, never the client
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class ConversationFile(models.Model):
    """A visitor's attachment read as context for its conversation only (docs/files.md):
    a table (``columns`` with inferred types, ``rows`` of cell texts) or text
    (``chunks``: ``{"page", "text"}``). Goes with its attachment and conversation."""

    class Kind(models.TextChoices):
        TABLE = "table", "Table"
        TEXT = "text", "Text"

    class Status(models.TextChoices):
        READY = "ready", "Read by the bot"
        FAILED = "failed", "Could not be read"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="context_files")
    attachment = models.OneToOneField(Attachment, on_delete=models.CASCADE, related_name="context")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices)
    error = models.CharField(max_length=300, blank=True)  # why it could not be read, for people
    columns = models.JSONField(default=list, blank=True)  # [{"name", "type"}]
    rows = models.JSONField(default=list, blank=True)  # [[cell text, ...]]
    chunks = models.JSONField(default=list, blank=True)  # [{"page": int | None, "text"}]
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.attachment_id} ({self.status})"


class CannedReply(models.Model):
    """A saved answer agents insert with ``/shortcut`` in the composer. Variables such as
    ``{{contact.name}}`` are filled in for the conversation (chat.canned)."""

    shortcut = models.SlugField(max_length=40, unique=True)
    title = models.CharField(max_length=120)
    text = models.TextField(max_length=4000)
    created_by_user_id = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["shortcut"]

    def __str__(self) -> str:
        return f"/{self.shortcut}"


class InboxSettings(models.Model):
    """The workspace's inbox rules (one row; ``chat.selectors.inbox_settings`` returns the
    unsaved defaults until an admin saves them)."""

    class Visibility(models.TextChoices):
        ALL = "all", "Agents see every conversation"
        WIDGETS = "widgets", "Agents see only their widgets' conversations"

    class OfflinePolicy(models.TextChoices):
        KEEP = "keep", "Keep them assigned"
        UNASSIGN = "unassign", "Return them to the unassigned queue"

    class Availability(models.TextChoices):
        AGENTS_ONLINE = "online", "When an agent is online"
        BUSINESS_HOURS = "hours", "Within the widget's business hours"
        EITHER = "either", "Within business hours or when an agent is online"

    visibility = models.CharField(max_length=8, choices=Visibility.choices, default=Visibility.ALL)
    auto_assign = models.BooleanField(default=True)
    offline_policy = models.CharField(max_length=8, choices=OfflinePolicy.choices, default=OfflinePolicy.KEEP)
    availability = models.CharField(
        max_length=8, choices=Availability.choices, default=Availability.AGENTS_ONLINE
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return "Inbox settings"


class AgentProfile(models.Model):
    """A member's inbox preferences and presence in this workspace (created on first use).
    Presence comes from heartbeats: online while they keep arriving, away when the agent
    says so or is idle, offline when they stop (chat.presence)."""

    user_id = models.PositiveIntegerField(unique=True)
    capacity = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    accepts_auto_assign = models.BooleanField(default=True)
    # The widgets this agent serves (empty: every widget).
    widgets = models.ManyToManyField("widget_builder.Widget", blank=True, related_name="agent_profiles")
    away = models.BooleanField(default=False)
    last_heartbeat_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Whether the offline policy already ran for the agent's last time offline.
    offline_handled = models.BooleanField(default=True)
    last_assigned_at = models.DateTimeField(null=True, blank=True)
    # Notifications.
    notify_sound = models.BooleanField(default=True)
    notify_browser = models.BooleanField(default=True)
    email_on_handoff = models.BooleanField(default=True)  # a handoff while no agent is online
    email_on_assigned = models.BooleanField(default=True)
    email_on_replies = models.BooleanField(default=True)  # visitor replies while away, batched
    replies_emailed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Agent {self.user_id}"
