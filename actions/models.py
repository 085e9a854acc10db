"""A workspace's AI actions: HTTPS endpoints of the tenant's that the bot may call for a
visitor (look up an order, book a slot, open a ticket), and the log of every call
(tenant schema). docs/actions.md is the tenant's reference."""

from __future__ import annotations

import uuid

from django.db import models


class Action(models.Model):
    """One endpoint the model may call as a tool named ``name``, with input described by
    ``parameters`` (a JSON Schema object). Headers (with their secrets) and the signing
    secret are stored encrypted (saas.crypto)."""

    class Method(models.TextChoices):
        GET = "GET", "GET"
        POST = "POST", "POST"
        PUT = "PUT", "PUT"
        PATCH = "PATCH", "PATCH"
        DELETE = "DELETE", "DELETE"

    class Audience(models.TextChoices):
        ANYONE = "anyone", "Anyone"
        VERIFIED = "verified", "Only visitors whose identity is verified"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # The tool's name for the model: letters, digits, "_" and "-" (the providers' rule).
    name = models.CharField(max_length=64, unique=True)
    title = models.CharField(max_length=120)  # what people see
    description = models.TextField()  # what the model reads to decide when to call it
    parameters = models.JSONField(default=dict)  # JSON Schema of the input object
    method = models.CharField(max_length=6, choices=Method.choices, default=Method.POST)
    # https; "{param}" places take the argument of that name (URL-encoded, then left out
    # of the query or body).
    url = models.URLField(max_length=2000)
    headers = models.TextField(blank=True, default="")  # encrypted JSON object {name: value}
    timeout_seconds = models.PositiveSmallIntegerField(default=10)
    # Dotted paths kept from a JSON answer, for the model ("order.status", "items.0.name");
    # empty: the whole answer (cut to ACTIONS_RESULT_CHARS).
    response_fields = models.JSONField(default=list, blank=True)
    audience = models.CharField(max_length=8, choices=Audience.choices, default=Audience.ANYONE)
    # The visitor confirms in the widget (the parameters shown in plain words) before a call.
    requires_confirmation = models.BooleanField(default=False)
    # Without an LLM (the offline provider), a visitor message with one of these phrases
    # (whole words, any case) opens the action's form in the widget (actions.confirmations).
    trigger_phrases = models.JSONField(default=list, blank=True)
    is_enabled = models.BooleanField(default=True)
    # The widgets whose conversations it is offered in; none: every widget.
    widgets = models.ManyToManyField("widget_builder.Widget", blank=True, related_name="actions")
    signing_secret = models.TextField()  # encrypted "acsec_..." (actions.signing)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.title or self.name


class ActionCall(models.Model):
    """One call of an action (or one refused before it was made), shown to agents in the
    transcript with its inputs, outcome and latency."""

    class Status(models.TextChoices):
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "The endpoint answered an error"
        TIMED_OUT = "timed_out", "Timed out"
        UNREADABLE = "unreadable", "The answer could not be read"
        REFUSED = "refused", "The address is not allowed"
        INVALID = "invalid", "The inputs did not match the parameters"
        DENIED = "denied", "The visitor may not use it"
        RATE_LIMITED = "rate_limited", "Too many calls"
        PAUSED = "paused", "Paused after failing"
        DECLINED = "declined", "The visitor declined"
        QUOTA_EXCEEDED = "quota_exceeded", "The plan's action calls are used up"

    class Source(models.TextChoices):
        ANSWER = "answer", "An answer to a visitor"
        TEST = "test", "The dashboard's test runner"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    action = models.ForeignKey(Action, null=True, on_delete=models.SET_NULL, related_name="calls")
    action_name = models.CharField(max_length=64)  # kept when the action is deleted
    # A tool of an MCP server (``action`` is then empty; ``action_name`` the name offered).
    mcp_server = models.ForeignKey(
        "actions.McpServer", null=True, blank=True, on_delete=models.SET_NULL, related_name="calls"
    )
    tool_name = models.CharField(max_length=128, blank=True, default="")  # the MCP server's own name
    conversation = models.ForeignKey(
        "chat.Conversation", null=True, blank=True, on_delete=models.CASCADE, related_name="action_calls"
    )
    contact = models.ForeignKey(
        "chat.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="action_calls"
    )
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.ANSWER)
    arguments = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    result = models.TextField(blank=True, default="")  # what the model was given
    response_excerpt = models.TextField(blank=True, default="")  # the answer's first 2 KB, as received
    error = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action_name} {self.status}"


class McpServer(models.Model):
    """A remote MCP server (Model Context Protocol, streamable HTTP) whose allowed tools the
    bot may call like actions, as ``<name>__<tool>``. ``tools`` keeps the last ``tools/list``
    answer (name, description, input schema of each); only those in ``allowed_tools`` are
    offered or called. Headers and the signing secret are stored encrypted (saas.crypto)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # The tools' prefix for the model: lower-case letters, digits and "-" (the providers' rule).
    name = models.CharField(max_length=20, unique=True)
    title = models.CharField(max_length=120)
    url = models.URLField(max_length=2000)  # https; the server's one MCP endpoint
    headers = models.TextField(blank=True, default="")  # encrypted JSON object {name: value}
    timeout_seconds = models.PositiveSmallIntegerField(default=10)
    allowed_tools = models.JSONField(default=list, blank=True)  # the tools' names on the server
    audience = models.CharField(max_length=8, choices=Action.Audience.choices, default=Action.Audience.ANYONE)
    requires_confirmation = models.BooleanField(default=False)
    is_enabled = models.BooleanField(default=True)
    signing_secret = models.TextField()  # encrypted "acsec_..." (actions.signing)
    tools = models.JSONField(default=list, blank=True)  # [{name, title, description, input_schema}]
    tools_refreshed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.title or self.name


class PendingCall(models.Model):
    """A call waiting for the visitor: a confirmation card (the model asked for an action,
    or an MCP server's tool, that ``requires_confirmation``: the exact inputs shown) or a
    form (the offline keyword rule: the visitor gives the inputs). Answered once: confirmed
    (the call runs with these inputs), declined, or expired after ``expires_at``. It is of
    an action or of an MCP server's tool (``mcp_server`` and ``tool_name``), never both."""

    class Kind(models.TextChoices):
        CONFIRM = "confirm", "Confirmation"
        FORM = "form", "Form"

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for the visitor"
        CONFIRMED = "confirmed", "Confirmed"
        DECLINED = "declined", "Declined"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    action = models.ForeignKey(
        Action, null=True, blank=True, on_delete=models.CASCADE, related_name="pending_calls"
    )
    mcp_server = models.ForeignKey(
        McpServer, null=True, blank=True, on_delete=models.CASCADE, related_name="pending_calls"
    )
    tool_name = models.CharField(max_length=128, blank=True, default="")  # the MCP server's own name
    conversation = models.ForeignKey(
        "chat.Conversation", on_delete=models.CASCADE, related_name="pending_action_calls"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    arguments = models.JSONField(default=dict)  # what the card shows and what runs
    state = models.CharField(max_length=9, choices=State.choices, default=State.PENDING)
    expires_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    call = models.ForeignKey(ActionCall, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(action__isnull=False, mcp_server__isnull=True, tool_name="")
                    | models.Q(action__isnull=True, mcp_server__isnull=False) & ~models.Q(tool_name="")
                ),
                name="pending_call_of_an_action_or_a_tool",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.state}"
