"""Embedding models for knowledge bases, behind one interface (``base.Embedder``).

    embedder = embedder_for(kb.embedding_provider, kb.embedding_model, api_key=..., base_url=...,
                            dimensions=...)
    embedder.model_id                      # store with the vectors; a change means re-embedding
    embedder.embed_documents(["text", ...])  # unit vectors, in order (cosine distance works)
    embedder.embed_query("question")

Providers: ``local`` (all-MiniLM-L6-v2 on the CPU, 384 dimensions, the default: run in this
process, or by the machine's embedding server when ``EMBEDDING_SERVER_URL`` is set, see
``server.py``; the same vectors either way), ``openai``
and ``openai_compatible`` (any server speaking OpenAI's embeddings API, by base URL).
Everything raises ``base.EmbeddingError`` with a message a person can act on, including a
configuration that cannot work. Embedders are cached per provider, model, size, key and URL.
A tenant-given base URL is checked against ``saas.outbound`` on every call, and its server is
only ever connected to through the guarded transport (the checked public address only).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from django.conf import settings

from saas.outbound import UnsafeAddress, url_host_check

from .base import Embedder, EmbeddingError
from .local import LocalEmbedder
from .served import ServedEmbedder

__all__ = ["DEFAULT", "PROVIDERS", "Embedder", "EmbeddingError", "embedder_for"]

DEFAULT = ("local", "")
PROVIDERS = ("local", "openai", "openai_compatible")
LOCAL_MODELS = ("", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2")
MAX_CACHED = 64

_local = LocalEmbedder()
_served: dict[tuple[str, float], ServedEmbedder] = {}
# (provider, model, dimensions, key digest, server, named by the tenant) -> its embedder
_cache: OrderedDict[tuple[str, str, int | None, str, str, bool], Embedder] = OrderedDict()
_lock = threading.Lock()


def embedder_for(
    provider: str,
    model: str = "",
    *,
    api_key: str = "",
    base_url: str = "",
    dimensions: int | None = None,
) -> Embedder:
    """The embedder for a knowledge base's settings. ``base_url`` is the tenant's server
    (``openai_compatible``; for ``openai`` it defaults to the platform's OPENAI_BASE_URL)."""
    model = (model or "").strip()
    if provider == "local":
        if model not in LOCAL_MODELS or dimensions not in (None, LocalEmbedder.dimensions):
            size = LocalEmbedder.dimensions
            raise EmbeddingError(f"The built-in embedding model is all-MiniLM-L6-v2, with {size} dimensions.")
        return _local_embedder()
    if provider not in PROVIDERS:
        raise EmbeddingError(f"Unknown embedding provider {provider!r}.")
    base_url = (base_url or "").strip()
    tenant_named = bool(base_url)
    if tenant_named:  # the tenant's: it must not reach into our network
        # Refused early with a clear reason; the guarantee is the guarded transport's, which
        # resolves the name again for each connection and checks that answer.
        try:
            url_host_check(base_url, allow_private=settings.LLM_ALLOW_PRIVATE_BASE_URLS)
        except UnsafeAddress as exc:
            raise EmbeddingError(f"The embedding server address is refused: {exc}") from exc
    elif provider == "openai":
        base_url = getattr(settings, "OPENAI_BASE_URL", "") or ""
    key = (provider, model, dimensions, hashlib.sha256(api_key.encode()).hexdigest(), base_url, tenant_named)
    with _lock:
        embedder = _cache.get(key)
        if embedder is not None:
            _cache.move_to_end(key)
            return embedder
    from .remote import OpenAIEmbedder  # the openai SDK loads only when a remote model is used

    embedder = OpenAIEmbedder(
        model=model,
        api_key=api_key,
        base_url=base_url,
        dimensions=dimensions,
        compatible=provider == "openai_compatible",
        tenant_named=tenant_named,
    )
    with _lock:
        embedder = _cache.setdefault(key, embedder)
        while len(_cache) > MAX_CACHED:
            _cache.popitem(last=False)
    return embedder


def _local_embedder() -> Embedder:
    """The built-in model: the machine's embedding server when one is configured (this
    process then never loads the model), else this process's own copy."""
    url = getattr(settings, "EMBEDDING_SERVER_URL", "") or ""
    if not url:
        return _local
    key = (url, float(getattr(settings, "EMBEDDING_SERVER_TIMEOUT", 2.0)))
    with _lock:
        served = _served.get(key)
        if served is None:
            served = _served[key] = ServedEmbedder(url, timeout=key[1])
        return served
