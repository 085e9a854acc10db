"""What every embedder offers, and the helpers its implementations share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


class EmbeddingError(Exception):
    """Embedding failed. ``str(error)`` tells a person what to do about it and never holds
    an API key."""


@runtime_checkable
class Embedder(Protocol):
    """Turns text into unit-length vectors (cosine distance = 1 - dot product). Sync and
    thread-safe; every method may raise :class:`EmbeddingError`."""

    @property
    def model_id(self) -> str:
        """Stable id stored with every vector, e.g. ``local:all-MiniLM-L6-v2-int8`` or
        ``openai:text-embedding-3-small:1536``: vectors are only comparable within one id."""
        ...

    @property
    def dimensions(self) -> int: ...

    @property
    def max_batch(self) -> int:
        """The most texts one model run or API request takes. ``embed_documents`` splits
        longer lists itself; callers may use it to size their own batches."""
        ...

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in the order given."""
        ...

    def embed_query(self, text: str) -> list[float]: ...


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """``vectors`` (rows) scaled to length 1, as float32. All-zero rows stay zero."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0).astype(np.float32)
