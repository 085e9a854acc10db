"""Knowledge lives in the tenant's schema: knowledge bases, their sources, the documents a
source yields (one per file or page) and the documents' chunks with their vectors and
full-text vectors. Retrieval (``knowledge.retrieval``) searches chunks inside the schema,
so another tenant's chunks are not even in the tables it reads."""

import uuid

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.dispatch import Signal
from django.utils import timezone
from pgvector.django import VectorField

# Sent once a change to the workspace's knowledge has committed: a source finished
# ingesting or was deleted (keyword ``source_id``). Apps above knowledge react to it (bot
# tests run again) without knowledge importing them. Receivers run in the tenant's schema.
knowledge_changed = Signal()
# Sent once a source's ingestion run has ended (or the reaper gave up on it) and committed:
# keywords ``source_id`` and ``status`` ("ready" or "failed"). The webhooks app listens
# (knowledge.source.ingested, knowledge.source.failed).
source_finished = Signal()

# Vector sizes with an HNSW index (migration 0003): local MiniLM, and OpenAI-style 1536.
INDEXED_DIMENSIONS = (384, 1536)


class KnowledgeBase(models.Model):
    class Language(models.TextChoices):
        # PostgreSQL text-search configurations (stemming and stop words per language).
        ENGLISH = "english", "English"
        SPANISH = "spanish", "Spanish"
        FRENCH = "french", "French"
        GERMAN = "german", "German"
        SIMPLE = "simple", "Other / mixed (no stemming)"

    class EmbeddingProvider(models.TextChoices):
        LOCAL = "local", "Built-in (all-MiniLM-L6-v2, runs on our servers)"
        OPENAI = "openai", "OpenAI"
        OPENAI_COMPATIBLE = "openai_compatible", "OpenAI-compatible server"

    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, default="")
    language = models.CharField(max_length=16, choices=Language.choices, default=Language.ENGLISH)
    # The embedding model the chunks' vectors come from; changing it re-embeds everything.
    embedding_provider = models.CharField(
        max_length=24, choices=EmbeddingProvider.choices, default=EmbeddingProvider.LOCAL
    )
    embedding_model = models.CharField(max_length=120, blank=True, default="")
    embedding_dimensions = models.PositiveSmallIntegerField(default=384)
    embedding_model_id = models.CharField(max_length=160, blank=True, default="")  # as the embedder names it
    embedding_base_url = models.URLField(max_length=300, blank=True, default="")
    embedding_api_key_encrypted = models.TextField(blank=True, default="")
    reembedding = models.BooleanField(default=False)
    # The cosine similarity a passage needs to be given to the bot (knowledge.relevance);
    # None: the calibrated default of the embedding model.
    min_relevance = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)]
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.name


def source_file_path(instance: "Source", filename: str) -> str:
    # A random name under the tenant's prefix (saas.storage); the visitor-facing name is
    # kept in ``file_name``.
    return f"knowledge/{instance.knowledge_base_id}/{uuid.uuid4().hex}"


class Source(models.Model):
    class Kind(models.TextChoices):
        FILE = "file", "File"
        URL = "url", "Web page"
        CRAWL = "crawl", "Website (crawl)"
        SITEMAP = "sitemap", "Sitemap"
        QA = "qa", "Q&A pairs"
        TEXT = "text", "Text"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    class Schedule(models.TextChoices):
        NONE = "", "Never"
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly"

    knowledge_base = models.ForeignKey(KnowledgeBase, on_delete=models.CASCADE, related_name="sources")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    title = models.CharField(max_length=300)
    url = models.URLField(max_length=2000, blank=True, default="")
    crawl_depth = models.PositiveSmallIntegerField(default=2, validators=[MaxValueValidator(5)])
    page_limit = models.PositiveIntegerField(
        default=50, validators=[MinValueValidator(1), MaxValueValidator(5000)]
    )
    file = models.FileField(upload_to=source_file_path, max_length=300, blank=True)
    file_name = models.CharField(max_length=200, blank=True, default="")
    file_size = models.PositiveIntegerField(default=0)
    text = models.TextField(blank=True, default="")
    qa_pairs = models.JSONField(default=list, blank=True)  # [{"question": ..., "answer": ...}]
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True, default="")
    # Runs of the ingestion (knowledge.runs): every queueing issues a new run number that
    # the task carries; only the current run may write. The running worker beats
    # ``heartbeat_at`` as it goes; the reaper re-queues a run whose beats stopped.
    run = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)  # runs started since it was queued
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True, default="")  # host:pid of the run's process
    sync_schedule = models.CharField(max_length=8, choices=Schedule.choices, blank=True, default="")
    last_synced_at = models.DateTimeField(null=True, blank=True)
    next_sync_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_report = models.JSONField(default=dict, blank=True)  # added/updated/removed/unchanged
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title


class Document(models.Model):
    """One file or one page of a source. Its chunks are replaced together, in one
    transaction, when its content changes (``content_hash``)."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="documents")
    knowledge_base = models.ForeignKey(KnowledgeBase, on_delete=models.CASCADE, related_name="documents")
    key = models.CharField(max_length=2000)  # the page URL, or "file"/"text"/"qa" for single documents
    title = models.CharField(max_length=300)
    url = models.URLField(max_length=2000, blank=True, default="")
    content_hash = models.CharField(max_length=64)
    chunk_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["source", "id"]
        constraints = [models.UniqueConstraint(fields=["source", "key"], name="document_source_key_unique")]

    def __str__(self) -> str:
        return self.title


class Chunk(models.Model):
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks")
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="chunks")
    knowledge_base = models.ForeignKey(KnowledgeBase, on_delete=models.CASCADE, related_name="chunks")
    position = models.PositiveIntegerField()
    text = models.TextField()
    heading_path = models.CharField(max_length=1000, blank=True, default="")  # "Shipping > Europe"
    page = models.PositiveIntegerField(null=True, blank=True)
    anchor = models.CharField(max_length=200, blank=True, default="")
    token_count = models.PositiveIntegerField(default=0)
    content_hash = models.CharField(max_length=64, db_index=True)
    # Vector of any size (the knowledge base's model decides); HNSW indexes per size are
    # partial expression indexes (migration 0003) used when the query names the size.
    embedding = VectorField(null=True, blank=True)
    embedding_dim = models.PositiveSmallIntegerField(default=0)
    embedding_model_id = models.CharField(max_length=160, blank=True, default="")
    search_vector = SearchVectorField(null=True)

    class Meta:
        ordering = ["document", "position"]
        indexes = [
            GinIndex(fields=["search_vector"], name="chunk_search_vector_gin"),
            models.Index(fields=["knowledge_base", "embedding_dim"], name="chunk_kb_dim"),
        ]

    def __str__(self) -> str:
        return f"{self.document_id}#{self.position}"
