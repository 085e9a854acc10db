"""Writes for knowledge bases and their sources. Preconditions: the tenant's schema is
active. Adding a source stores it as ``queued`` and queues its ingestion after the commit."""

from __future__ import annotations

import json

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum, TextField
from django.db.models.functions import Cast, Length

from billing.quotas import quota_require
from saas.celery import enqueue_on_commit
from saas.crypto import secret_encrypt
from saas.errors import PayloadTooLarge, ValidationFailed
from saas.outbound import UnsafeAddress, url_host_check

from .extraction import ExtractionError, detect_type
from .models import KnowledgeBase, Source

MAX_UPLOAD_MB = 20
MAX_QA_PAIRS = 500


def knowledge_base_ensure_default(*, tenant, owner) -> KnowledgeBase:
    """Every workspace starts with one empty knowledge base (workspace initializer)."""
    existing = KnowledgeBase.objects.order_by("id").first()
    return existing or KnowledgeBase.objects.create(name="Main knowledge base")


def _invalid(field: str, message: str, code: str = "invalid") -> ValidationFailed:
    return ValidationFailed(errors={field: [{"code": code, "message": message}]})


def knowledge_storage_bytes() -> int:
    """What the workspace's knowledge takes: uploaded files plus text and Q&A sources."""
    totals = Source.objects.aggregate(
        files=Sum("file_size"),
        texts=Sum(Length("text")),
        qa=Sum(Length(Cast("qa_pairs", TextField())), filter=Q(kind=Source.Kind.QA)),
    )
    return sum(value or 0 for value in totals.values())


def _check_storage(tenant, adding: int) -> None:
    """The plan's knowledge storage, counted in bytes against its MB (a file of 1 byte past
    the limit is refused)."""
    quota_require(tenant, "storage_mb", used=lambda: knowledge_storage_mb(adding), adding=0)


def knowledge_storage_mb(adding: int = 0) -> int:
    """The storage in MB as the plan counts it, with ``adding`` bytes more: a started MB
    counts (exact to the byte against a limit in whole MB)."""
    return -(-(knowledge_storage_bytes() + adding) // (1024 * 1024))


def _queue(source: Source) -> Source:
    from .tasks import source_ingest_task

    enqueue_on_commit(source_ingest_task, source.pk)
    return source


@transaction.atomic
def source_add_file(*, tenant, kb: KnowledgeBase, upload) -> Source:
    """An uploaded file (PDF, DOCX, TXT, Markdown, HTML, CSV, JSON), typed by its content."""
    if upload.size > MAX_UPLOAD_MB * 1024 * 1024:
        raise PayloadTooLarge(f"Upload files of at most {MAX_UPLOAD_MB} MB.")
    head = upload.read(64 * 1024)
    upload.seek(0)
    try:
        detect_type(head, upload.name)
    except ExtractionError as error:
        raise _invalid("file", str(error), "unsupported_file") from error
    _check_storage(tenant, upload.size)
    name = (upload.name or "upload").replace("\\", "/").rsplit("/", 1)[-1][:200]
    source = Source(
        knowledge_base=kb, kind=Source.Kind.FILE, title=name, file_name=name, file_size=upload.size
    )
    source.file.save("upload", upload, save=False)
    source.save()
    return _queue(source)


@transaction.atomic
def source_add_url(
    *,
    kb: KnowledgeBase,
    url: str,
    kind: str = Source.Kind.URL,
    depth: int = 2,
    page_limit: int = 50,
    schedule: str = "",
) -> Source:
    """A web page, a site crawl (same site, by link depth and page limit) or a sitemap."""
    if kind not in (Source.Kind.URL, Source.Kind.CRAWL, Source.Kind.SITEMAP):
        raise _invalid("kind", "Choose a page, a website or a sitemap.")
    try:
        url_host_check(
            url, allow_private=getattr(settings, "KNOWLEDGE_FETCH_ALLOW_PRIVATE", False) or _allowlisted(url)
        )
    except UnsafeAddress as error:
        raise _invalid("url", str(error), "unsafe_url") from error
    if schedule not in Source.Schedule.values:
        raise _invalid("sync_schedule", "Choose never, daily or weekly.")
    source = Source.objects.create(
        knowledge_base=kb,
        kind=kind,
        title=url[:300],
        url=url,
        crawl_depth=max(0, min(int(depth), 5)),
        page_limit=max(1, min(int(page_limit), 5000)),
        sync_schedule=schedule,
    )
    return _queue(source)


def _allowlisted(url: str) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
    return host in getattr(settings, "KNOWLEDGE_FETCH_PRIVATE_ALLOWLIST", [])


@transaction.atomic
def source_add_text(*, tenant, kb: KnowledgeBase, title: str, text: str) -> Source:
    text = (text or "").replace("\x00", "").strip()
    if not text:
        raise _invalid("text", "Write some text.", "required")
    _check_storage(tenant, len(text))
    source = Source.objects.create(
        knowledge_base=kb, kind=Source.Kind.TEXT, title=(title or "Text")[:300], text=text
    )
    return _queue(source)


@transaction.atomic
def source_set_qa(
    *, tenant, kb: KnowledgeBase, pairs: list[dict], source: Source | None = None, title: str = ""
) -> Source:
    """Create or replace a Q&A source (re-ingested: unchanged pairs embed nothing)."""
    clean = []
    for pair in pairs[: MAX_QA_PAIRS + 1]:
        question = str(pair.get("question", "")).replace("\x00", "").strip()[:1000]
        answer = str(pair.get("answer", "")).replace("\x00", "").strip()[:5000]
        if question and answer:
            clean.append({"question": question, "answer": answer})
    if not clean:
        raise _invalid("qa_pairs", "Add at least one question with its answer.", "required")
    if len(clean) > MAX_QA_PAIRS:
        raise _invalid("qa_pairs", f"Keep it to {MAX_QA_PAIRS} pairs per source.")
    before = len(json.dumps(source.qa_pairs)) if source is not None else 0
    _check_storage(tenant, max(0, len(json.dumps(clean)) - before))
    if source is None:
        source = Source(knowledge_base=kb, kind=Source.Kind.QA, title=(title or "Q&A")[:300])
    source.qa_pairs, source.status = clean, Source.Status.QUEUED
    source.save()
    return _queue(source)


@transaction.atomic
def source_retry(*, source: Source) -> Source:
    Source.objects.filter(pk=source.pk).update(status=Source.Status.QUEUED, error="")
    return _queue(source)


def source_delete(*, source: Source) -> None:
    from .ingestion import source_delete as delete

    delete(source)


@transaction.atomic
def knowledge_base_set_embedding(
    *,
    kb: KnowledgeBase,
    provider: str,
    model: str = "",
    dimensions: int = 384,
    base_url: str = "",
    api_key: str = "",
) -> KnowledgeBase:
    """Switch the embedding model; every chunk is re-embedded in the background."""
    from .tasks import knowledge_base_reembed_task

    kb.embedding_provider, kb.embedding_model = provider, model
    kb.embedding_dimensions, kb.embedding_base_url = dimensions, base_url
    if api_key:
        kb.embedding_api_key_encrypted = secret_encrypt(api_key)
    kb.reembedding = True
    kb.save()
    enqueue_on_commit(knowledge_base_reembed_task, kb.pk)
    return kb
