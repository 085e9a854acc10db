"""Writes for knowledge bases and their sources. Preconditions: the tenant's schema is
active (the routing middleware, a task or ``schema_context``).

Every refusal is a ``saas.errors`` problem (``ValidationFailed`` with per-field errors,
``PayloadTooLarge``, ``QuotaExceeded``): the dashboard puts it back on its forms, the REST
API answers it as problem details. Adding a source stores it as ``queued`` and queues its
ingestion after the commit; a new embedding model queues the re-embedding after the commit.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files.storage import Storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from audit.services import Caller, audit_record
from billing.quotas import quota_require
from saas.celery import enqueue_on_commit
from saas.crypto import secret_encrypt, secret_rotate
from saas.errors import Conflict, PayloadTooLarge, ValidationFailed
from saas.outbound import UnsafeAddress, endpoint_key_kept, url_host_check
from tenants.models import Tenant

from .embeddings.base import EmbeddingError
from .extraction import ExtractionError, detect_type
from .models import INDEXED_DIMENSIONS, Document, KnowledgeBase, Source, knowledge_changed
from .runs import run_issue
from .selectors import knowledge_base_has_chunks, knowledge_storage_mb
from .selectors import knowledge_storage_bytes as knowledge_storage_bytes  # read here by billing's tests
from .tasks import knowledge_base_reembed_task, source_ingest_task

logger = logging.getLogger(__name__)

MAX_UPLOAD_MB = 20
MAX_QA_PAIRS = 500
NAME_MAX = 120
LOCAL_DIMENSIONS = 384
OPENAI_DEFAULT_DIMENSIONS = 1536
OPENAI_DEFAULT_MODEL = "text-embedding-3-small"
KEEP = "keep"  # a setting left as stored
RELEVANCE_RANGE = "Enter a similarity between 0 and 1, such as 0.4, or leave it blank for the default."
LANGUAGE_LOCKED = (
    "Fixed once content is ingested: the keyword index of existing content is built for this "
    "language. Create a new knowledge base for another language."
)

Errors = dict[str, list[dict[str, str]]]


def _add(errors: Errors, field: str, message: str, code: str = "invalid") -> Errors:
    errors.setdefault(field, []).append({"code": code, "message": message})
    return errors


def _invalid(field: str, message: str, code: str = "invalid") -> ValidationFailed:
    return ValidationFailed(errors=_add({}, field, message, code))


def _locked(kb: KnowledgeBase) -> KnowledgeBase:
    """``kb`` as stored, its row locked until the commit: concurrent saves of the settings
    run one after the other, each judged against what the other stored."""
    return KnowledgeBase.objects.select_for_update().get(pk=kb.pk)


# --- knowledge bases -------------------------------------------------------------------------


def knowledge_base_ensure_default(*, tenant: Tenant, owner: object) -> KnowledgeBase:
    """Every workspace starts with one empty knowledge base (workspace initializer)."""
    existing = KnowledgeBase.objects.order_by("id").first()
    return existing or KnowledgeBase.objects.create(name="Main knowledge base")


def _base_errors(*, name: str, language: str, stored: KnowledgeBase | None = None) -> Errors:
    errors: Errors = {}
    if not name:
        _add(errors, "name", "Name the knowledge base.", "required")
    elif len(name) > NAME_MAX:
        _add(errors, "name", f"Keep the name to {NAME_MAX} characters.", "max_length")
    if language not in KnowledgeBase.Language.values:
        _add(errors, "language", "Choose one of the languages offered.", "invalid_choice")
    elif stored is not None and language != stored.language and knowledge_base_has_chunks(kb=stored):
        # Existing chunks were indexed for keyword search in the stored language; another
        # language would no longer match them.
        _add(errors, "language", LANGUAGE_LOCKED, "language_locked")
    return errors


@transaction.atomic
def knowledge_base_create(
    *,
    name: str,
    description: str = "",
    language: str = KnowledgeBase.Language.ENGLISH,
    request: Caller | None = None,
) -> KnowledgeBase:
    """A new, empty knowledge base with the built-in embedding model
    (``knowledge_base.created``)."""
    name, description = name.strip(), description.strip()
    errors = _base_errors(name=name, language=language)
    if errors:
        raise ValidationFailed(errors=errors)
    kb = KnowledgeBase.objects.create(name=name, description=description, language=language)
    metadata = {"name": name, "language": language}
    audit_record(
        action="knowledge_base.created", request=request, target=kb, target_repr=name, metadata=metadata
    )
    return kb


def _base_apply(kb: KnowledgeBase, *, name: str, description: str, language: str) -> list[str]:
    kb.name, kb.description, kb.language = name, description, language
    return ["name", "description", "language"]


@transaction.atomic
def knowledge_base_update(*, kb: KnowledgeBase, name: str, description: str, language: str) -> KnowledgeBase:
    """Rename or describe ``kb``; its language only while nothing is indexed (refused with
    ``language_locked`` after). Locks ``kb``'s row until the commit."""
    stored = _locked(kb)
    name, description = name.strip(), description.strip()
    errors = _base_errors(name=name, language=language, stored=stored)
    if errors:
        raise ValidationFailed(errors=errors)
    fields = _base_apply(kb, name=name, description=description, language=language)
    kb.save(update_fields=[*fields, "updated_at"])
    return kb


@dataclass(frozen=True)
class EmbeddingSettings:
    """An embedding model for a knowledge base as a person chooses it. ``api_key`` is
    write-only: blank keeps the stored key while the endpoint (provider and server) stays;
    a key never follows its knowledge base to another endpoint."""

    provider: str
    model: str = ""
    dimensions: int | None = None
    base_url: str = ""
    api_key: str = ""


def _key_kept(stored: KnowledgeBase, provider: str, base_url: str) -> bool:
    return endpoint_key_kept(
        old=(stored.embedding_provider, stored.embedding_base_url), new=(provider, base_url)
    )


def _model_refusal(wanted: EmbeddingSettings) -> tuple[str, str] | None:
    """(field, reason) when the model and size cannot work together (e.g.
    text-embedding-ada-002 at 384), before anything is re-embedded. Nothing is sent."""
    # the openai SDK loads only when a remote model is chosen
    from .embeddings.remote import OpenAIEmbedder

    try:
        OpenAIEmbedder(
            model=wanted.model,
            api_key="not-used-for-this-check",
            base_url=wanted.base_url,
            dimensions=wanted.dimensions,
            compatible=wanted.provider == KnowledgeBase.EmbeddingProvider.OPENAI_COMPATIBLE,
        )
    except EmbeddingError as error:
        return ("dimensions" if "dimension" in str(error) else "model", str(error))
    return None


def _embedding_clean(stored: KnowledgeBase, wanted: EmbeddingSettings) -> tuple[EmbeddingSettings, Errors]:
    """``wanted`` completed with its provider's defaults, and what is wrong with it."""
    Provider = KnowledgeBase.EmbeddingProvider
    errors: Errors = {}
    provider, model = wanted.provider, (wanted.model or "").strip()
    base_url, dimensions = (wanted.base_url or "").strip(), wanted.dimensions
    if provider == Provider.LOCAL:
        if dimensions not in (None, LOCAL_DIMENSIONS):
            _add(errors, "dimensions", "The built-in model makes vectors of size 384.")
        model, base_url, dimensions = "", "", LOCAL_DIMENSIONS
    elif provider == Provider.OPENAI:
        model, base_url = model or OPENAI_DEFAULT_MODEL, ""
        dimensions = dimensions or OPENAI_DEFAULT_DIMENSIONS
    elif provider == Provider.OPENAI_COMPATIBLE:
        if not dimensions:
            _add(errors, "dimensions", "Choose the size of your model's vectors: 384 or 1536.", "required")
        if not model:
            _add(errors, "model", "Name the model your server serves.", "required")
        if not base_url:
            _add(errors, "base_url", "Enter the address of your OpenAI-compatible server.", "required")
        else:
            try:
                url_host_check(base_url, allow_private=settings.LLM_ALLOW_PRIVATE_BASE_URLS)
            except UnsafeAddress as exc:
                _add(errors, "base_url", str(exc), "unsafe_url")
    else:
        _add(errors, "provider", "Choose the built-in model, OpenAI or an OpenAI-compatible server.")
    if dimensions and dimensions not in INDEXED_DIMENSIONS:
        _add(errors, "dimensions", "Only vectors of size 384 or 1536 are indexed.", "invalid_choice")
    if len(model) > 120:
        _add(errors, "model", "Keep the model name to 120 characters.", "max_length")
    if len(base_url) > 300:
        _add(errors, "base_url", "Keep the address to 300 characters.", "max_length")
    api_key = (wanted.api_key or "").strip()
    keeps_key = bool(stored.embedding_api_key_encrypted) and _key_kept(stored, provider, base_url)
    if provider == Provider.OPENAI and not api_key and not keeps_key:
        _add(errors, "api_key", "Paste your OpenAI API key.", "required")
    cleaned = EmbeddingSettings(provider, model, dimensions, base_url, api_key)
    if provider != Provider.LOCAL and not errors:
        refusal = _model_refusal(cleaned)
        if refusal:
            _add(errors, *refusal)
    return cleaned, errors


_MODEL_FIELDS = ("provider", "model", "dimensions", "base_url")


def _embedding_apply(kb: KnowledgeBase, stored: KnowledgeBase, wanted: EmbeddingSettings) -> list[str]:
    """Set ``wanted`` on ``kb``; the fields to save, none when the model (and key) stay."""
    current = tuple(getattr(stored, f"embedding_{name}") for name in _MODEL_FIELDS)
    if current == (wanted.provider, wanted.model, wanted.dimensions, wanted.base_url) and not wanted.api_key:
        return []
    kb.embedding_provider, kb.embedding_model = wanted.provider, wanted.model
    kb.embedding_dimensions, kb.embedding_base_url = wanted.dimensions or LOCAL_DIMENSIONS, wanted.base_url
    if wanted.api_key:
        kb.embedding_api_key_encrypted = secret_encrypt(wanted.api_key)
    elif _key_kept(stored, wanted.provider, wanted.base_url):
        kb.embedding_api_key_encrypted = stored.embedding_api_key_encrypted
    else:
        kb.embedding_api_key_encrypted = ""  # a stored key is never sent to another endpoint
    kb.reembedding = True
    enqueue_on_commit(knowledge_base_reembed_task, kb.pk)
    return [f"embedding_{name}" for name in (*_MODEL_FIELDS, "api_key_encrypted")] + ["reembedding"]


@transaction.atomic
def knowledge_base_set_embedding(
    *,
    kb: KnowledgeBase,
    provider: str,
    model: str = "",
    dimensions: int | None = None,
    base_url: str = "",
    api_key: str = "",
) -> bool:
    """Switch the embedding model; every chunk is re-embedded in the background. Returns
    whether anything changed (the same model and no new key: nothing is re-embedded).
    Locks ``kb``'s row until the commit."""
    stored = _locked(kb)
    wanted, errors = _embedding_clean(
        stored, EmbeddingSettings(provider, model, dimensions, base_url, api_key)
    )
    if errors:
        raise ValidationFailed(errors=errors)
    fields = _embedding_apply(kb, stored, wanted)
    if fields:
        kb.save(update_fields=[*fields, "updated_at"])
    return bool(fields)


@transaction.atomic
def knowledge_base_settings_save(
    *,
    kb: KnowledgeBase,
    name: str,
    description: str,
    language: str,
    embedding: EmbeddingSettings,
    min_relevance: float | str | None = KEEP,
) -> bool:
    """The settings page: name, description, language, embedding model and relevance
    threshold (``min_relevance``, 0 to 1; None: the model's calibrated default; ``KEEP``:
    unchanged) judged together (one refusal names every field at fault) and saved together.
    Returns whether the model changed, so every chunk is being re-embedded. Locks ``kb``'s
    row until the commit."""
    stored = _locked(kb)
    name, description = name.strip(), description.strip()
    errors = _base_errors(name=name, language=language, stored=stored)
    wanted, embedding_errors = _embedding_clean(stored, embedding)
    errors.update(embedding_errors)  # the sets of fields do not overlap
    relevance_fields: list[str] = []
    if min_relevance != KEEP:
        threshold = None if min_relevance is None else float(min_relevance)
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            _add(errors, "min_relevance", RELEVANCE_RANGE, "out_of_range")
        kb.min_relevance, relevance_fields = threshold, ["min_relevance"]
    if errors:
        raise ValidationFailed(errors=errors)
    fields = _base_apply(kb, name=name, description=description, language=language)
    embedding_fields = _embedding_apply(kb, stored, wanted)
    kb.save(update_fields=[*fields, *embedding_fields, *relevance_fields, "updated_at"])
    logger.info("knowledge base settings saved kb=%s embedding_changed=%s", kb.pk, bool(embedding_fields))
    return bool(embedding_fields)


# --- sources ---------------------------------------------------------------------------------


def _check_storage(tenant: Tenant, adding: int) -> None:
    """The plan's knowledge storage, counted in bytes against its MB (a file of 1 byte past
    the limit is refused)."""
    quota_require(tenant, "storage_mb", used=lambda: knowledge_storage_mb(adding), adding=0)


def _source_shown(source: Source) -> str:
    """A source as the audit log names it: its title, a web address without its query."""
    if source.url:
        parts = urlsplit(source.url)
        return f"{parts.scheme}://{parts.hostname or ''}{parts.path}"[:255]
    return source.title[:255]


def _added(source: Source, request: Caller | None) -> Source:
    kb = source.knowledge_base
    audit_record(
        action="source.added",
        request=request,
        target=source,
        target_repr=_source_shown(source),
        metadata={"kind": source.kind, "knowledge_base": kb.pk, "knowledge_base_name": kb.name},
    )
    return _queue(source)


def _queue(source: Source) -> Source:
    """Queue ``source``'s ingestion under a new run (``knowledge.runs``), after the commit."""
    source.run = run_issue(source.pk)
    source.status, source.attempts, source.error = Source.Status.QUEUED, 0, ""
    enqueue_on_commit(source_ingest_task, source.pk, run=source.run)
    return source


@transaction.atomic
def source_add_file(
    *, tenant: Tenant, kb: KnowledgeBase, upload: UploadedFile, request: Caller | None = None
) -> Source:
    """An uploaded file (PDF, DOCX, TXT, Markdown, HTML, CSV, JSON), typed by its content."""
    if (upload.size or 0) > MAX_UPLOAD_MB * 1024 * 1024:
        raise PayloadTooLarge(f"Upload files of at most {MAX_UPLOAD_MB} MB.")
    head = upload.read(64 * 1024)
    upload.seek(0)
    try:
        detect_type(head, upload.name or "")
    except ExtractionError as error:
        raise _invalid("file", str(error), "unsupported_file") from error
    _check_storage(tenant, upload.size or 0)
    name = (upload.name or "upload").replace("\\", "/").rsplit("/", 1)[-1][:200]
    source = Source(
        knowledge_base=kb, kind=Source.Kind.FILE, title=name, file_name=name, file_size=upload.size or 0
    )
    source.file.save("upload", upload, save=False)
    source.save()
    return _added(source, request)


def _allowlisted(url: str) -> bool:
    parts = urlsplit(url)
    host = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
    return host in getattr(settings, "KNOWLEDGE_FETCH_PRIVATE_ALLOWLIST", [])


@transaction.atomic
def source_add_url(
    *,
    kb: KnowledgeBase,
    url: str,
    kind: str = Source.Kind.URL,
    depth: int = 2,
    page_limit: int = 50,
    schedule: str = "",
    request: Caller | None = None,
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
    return _added(source, request)


@transaction.atomic
def source_add_text(
    *, tenant: Tenant, kb: KnowledgeBase, title: str, text: str, request: Caller | None = None
) -> Source:
    text = (text or "").replace("\x00", "").strip()
    if not text:
        raise _invalid("text", "Write some text.", "required")
    _check_storage(tenant, len(text))
    source = Source.objects.create(
        knowledge_base=kb, kind=Source.Kind.TEXT, title=(title or "Text")[:300], text=text
    )
    return _added(source, request)


@transaction.atomic
def source_set_qa(
    *,
    tenant: Tenant,
    kb: KnowledgeBase,
    pairs: list[dict[str, Any]],
    source: Source | None = None,
    title: str = "",
    request: Caller | None = None,
) -> Source:
    """Create a Q&A source (``source.added``), or replace the pairs (and the title, when one
    is given) of ``source``; it is re-ingested, and unchanged pairs embed nothing."""
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
    new = source is None
    if source is None:
        source = Source(knowledge_base=kb, kind=Source.Kind.QA, title=(title or "Q&A")[:300])
    elif title:
        source.title = title[:300]
    source.qa_pairs, source.status = clean, Source.Status.QUEUED
    source.save(update_fields=None if new else ["title", "qa_pairs", "status", "updated_at"])
    return _added(source, request) if new else _queue(source)


@transaction.atomic
def source_retry(*, source: Source) -> Source:
    """Process a failed source again, or re-sync a web source now."""
    return _queue(source)


@transaction.atomic
def source_delete(*, source: Source, request: Caller | None = None) -> None:
    """Delete a source with its documents, chunks (and their vectors) and stored file; the
    file goes once the deletion has committed (``source.deleted``)."""
    audit_record(
        action="source.deleted",
        request=request,
        target=source,
        target_repr=_source_shown(source),
        metadata={"kind": source.kind, "knowledge_base": source.knowledge_base_id},
    )
    name = source.file.name if source.file else ""
    storage = source.file.storage
    source_id = source.pk
    source.delete()  # documents and chunks go with it (cascade)
    transaction.on_commit(lambda: knowledge_changed.send(sender=Source, source_id=source_id))
    if name:
        transaction.on_commit(lambda: storage.delete(name))


@transaction.atomic
def knowledge_base_delete(*, kb: KnowledgeBase, request: Caller | None = None) -> None:
    """Delete ``kb`` with its sources, documents and chunks; their stored files go once the
    deletion has committed, and ``knowledge_changed`` is sent for each source. Bots lose it
    from their knowledge bases (the relation rows go with it). One ``knowledge_base.deleted``
    event (with how many sources went), not one per source."""
    sources = list(Source.objects.filter(knowledge_base=kb).only("pk", "file"))
    audit_record(
        action="knowledge_base.deleted",
        request=request,
        target=kb,
        target_repr=kb.name,
        metadata={"name": kb.name, "sources": len(sources)},
    )
    kb.delete()  # sources, documents and chunks go with it (cascade)
    for source in sources:
        _after_source_deleted(source.pk, source.file.name if source.file else "", source.file.storage)


def _after_source_deleted(source_id: int, name: str, storage: Storage) -> None:
    """Once the deletion has committed: tell the apps above, delete the stored file."""
    transaction.on_commit(lambda: knowledge_changed.send(sender=Source, source_id=source_id))
    if name:
        transaction.on_commit(lambda: storage.delete(name))


@transaction.atomic
def document_delete(*, document: Document) -> None:
    """Delete one document of a source with its chunks. Refused (409 ``conflict``) while
    its source is queued or processing: the run would write it again. A later re-sync of
    a web source reads the page again. Locks the source's row until the commit."""
    source = Source.objects.select_for_update().get(pk=document.source_id)
    if source.status in (Source.Status.QUEUED, Source.Status.PROCESSING):
        raise Conflict("The source is being processed; delete its documents once it is done.")
    document.delete()  # its chunks go with it (cascade)
    transaction.on_commit(lambda: knowledge_changed.send(sender=Source, source_id=source.pk))


def knowledge_base_secrets_rotate() -> int:
    """Re-encrypt every knowledge base's own embedding key under the current master key
    (``saas.crypto``, ``manage.py rotate_secrets``); returns how many were rotated.
    Precondition: the tenant's schema is active."""
    rotated = 0
    with transaction.atomic():
        for kb in KnowledgeBase.objects.select_for_update().exclude(embedding_api_key_encrypted=""):
            kb.embedding_api_key_encrypted = secret_rotate(kb.embedding_api_key_encrypted)
            kb.save(update_fields=["embedding_api_key_encrypted"])
            rotated += 1
    return rotated
