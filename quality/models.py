"""The answer-quality loop and bot tests, in the tenant's schema.

``FlaggedQuestion``: a visitor question the bot did not answer well (the no-answer text, a
handoff, or a thumbs-down on the answer), with its vector kept so the "Unanswered and
low-rated" page embeds each question once, and what the workspace did with it (dismissed,
or answered by a Q&A pair in a knowledge base). ``BotTest``: a question with what a good
answer must contain or cite; ``BotTestRun`` runs every test once and keeps a
``BotTestResult`` per test."""

from django.db import models
from django.utils import timezone
from pgvector.django import VectorField


class FlaggedQuestion(models.Model):
    class State(models.TextChoices):
        OPEN = "open", "Open"
        DISMISSED = "dismissed", "Dismissed"
        ANSWERED = "answered", "Answered"

    # The visitor's question (a chat message of role "visitor").
    message = models.OneToOneField("chat.Message", on_delete=models.CASCADE, related_name="+")
    embedding = VectorField(null=True, blank=True)
    embedding_model_id = models.CharField(max_length=160, blank=True, default="")
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN, db_index=True)
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by_user_id = models.PositiveIntegerField(null=True, blank=True)  # a public-schema user
    # The Q&A source that answers it (state "answered").
    source = models.ForeignKey(
        "knowledge.Source", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"question {self.message_id} ({self.state})"


class BotTest(models.Model):
    widget = models.ForeignKey("widget_builder.Widget", on_delete=models.CASCADE, related_name="+")
    question = models.CharField(max_length=1000)
    must_contain = models.TextField(blank=True, default="")  # phrases, one per line, all required
    must_cite = models.ForeignKey(
        "knowledge.Source", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.question

    @property
    def phrases(self) -> list[str]:
        return [line.strip() for line in self.must_contain.splitlines() if line.strip()]


class BotTestRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        MANUAL = "manual", "Run by hand"
        KNOWLEDGE = "knowledge", "Knowledge changed"

    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.MANUAL)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED, db_index=True)
    requested_by_user_id = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    total = models.PositiveIntegerField(default=0)
    passed = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.status})"

    @property
    def pass_rate(self) -> int | None:
        """Whole percent of the tests that passed (None before the run finished)."""
        if self.status != self.Status.DONE or not self.total:
            return None
        return round(100 * self.passed / self.total)


class BotTestResult(models.Model):
    run = models.ForeignKey(BotTestRun, on_delete=models.CASCADE, related_name="results")
    test = models.ForeignKey(
        BotTest, null=True, blank=True, on_delete=models.SET_NULL, related_name="results"
    )
    question = models.CharField(max_length=1000)  # as it was when the run asked it
    answer = models.TextField(blank=True, default="")
    outcome = models.CharField(max_length=12, blank=True, default="")  # chat.answering.Outcome
    citations = models.JSONField(default=list, blank=True)
    passed = models.BooleanField(default=False)
    failures = models.JSONField(default=list, blank=True)  # what was missing, in words

    class Meta:
        ordering = ["run", "id"]

    def __str__(self) -> str:
        return f"{self.run_id}: {'pass' if self.passed else 'fail'}"
