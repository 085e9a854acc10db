"""What assist keeps, in the tenant's schema: the workspace's translation switch, each
member's language, a conversation's summary and the translations of messages."""

from django.db import models
from django.utils import timezone


class AssistSettings(models.Model):
    """The workspace's assist settings (one row; ``selectors.assist_settings`` returns the
    unsaved defaults until a manager saves them)."""

    translation_enabled = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return "Assist settings"


class MemberLanguage(models.Model):
    """The language a member reads and writes in (blank: their browser's)."""

    user_id = models.PositiveIntegerField(unique=True)  # a user of the public schema
    language = models.CharField(max_length=16, blank=True, default="")

    def __str__(self) -> str:
        return f"{self.user_id}: {self.language or 'browser'}"


class ConversationSummary(models.Model):
    """A short summary for agents, made when the conversation is handed off or assigned
    (a Celery task) or when an agent asks for it."""

    class Reason(models.TextChoices):
        HANDOFF = "handoff", "Handed off"
        ASSIGNED = "assigned", "Assigned"
        ASKED = "asked", "Asked by an agent"

    conversation = models.OneToOneField(
        "chat.Conversation", on_delete=models.CASCADE, related_name="assist_summary"
    )
    text = models.TextField(blank=True, default="")
    up_to_seq = models.PositiveIntegerField(default=0)  # the last message it covers
    reason = models.CharField(max_length=12, choices=Reason.choices, default=Reason.ASKED)
    provider = models.CharField(max_length=24, blank=True, default="")
    error = models.CharField(max_length=200, blank=True, default="")  # the last attempt's failure
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Summary of {self.conversation_id}"


class MessageTranslation(models.Model):
    """A message in another language: a visitor's message in an agent's language, or an
    agent's reply as the agent wrote it (the message itself holds what the visitor got)."""

    class State(models.TextChoices):
        DONE = "done", "Translated"
        SAME = "same", "Already in that language"
        FAILED = "failed", "Not translated"

    message = models.ForeignKey("chat.Message", on_delete=models.CASCADE, related_name="translations")
    language = models.CharField(max_length=16)  # of ``text``
    text = models.TextField(blank=True, default="")
    source_language = models.CharField(max_length=16, blank=True, default="")  # of the message
    state = models.CharField(max_length=8, choices=State.choices, default=State.DONE)
    provider = models.CharField(max_length=24, blank=True, default="")
    error = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "language"], name="message_translation_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} in {self.language}"
