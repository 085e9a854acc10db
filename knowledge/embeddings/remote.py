"""OpenAI embeddings, and any OpenAI-compatible embeddings server (Ollama, vLLM, LM Studio,
TEI...) by base URL, through the official ``openai`` SDK (sync client).

- Requests: at most ``MAX_BATCH`` texts each; 30 s timeout; the SDK retries twice (429,
  5xx, connection errors) with backoff; redirects are never followed (a tenant's server
  must not bounce us elsewhere). The client comes from ``saas.outbound.sdk``: a tenant's
  server (``tenant_named``) is reached only through the guarded transport, which connects
  to the address it checked; a refused address is not retried.
- ``dimensions``: OpenAI's text-embedding-3 models always get it (their native size when
  none is asked for). A compatible server gets it only when its vectors come back another
  size than asked (an MRL model shortening them): many servers refuse the parameter for
  models that cannot shorten their vectors, even at their native size.
- Vectors are re-normalised to unit length here whatever the server does; they must have
  the agreed size, or :class:`EmbeddingError` says what to change.
- Every SDK error becomes an :class:`EmbeddingError` a person can act on, without the key.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Literal
from urllib.parse import urlsplit

import httpx2
import numpy as np
import openai

from saas.outbound import UnsafeAddress, refusal_in
from saas.outbound.sdk import openai_sync_client

from .base import EmbeddingError, unit_rows

OPENAI_DEFAULT_MODEL = "text-embedding-3-small"
# Native size, and whether the model takes ``dimensions``.
OPENAI_MODELS = {
    "text-embedding-3-small": (1536, True),
    "text-embedding-3-large": (3072, True),
    "text-embedding-ada-002": (1536, False),
}
MAX_BATCH = 256  # OpenAI takes 2048 inputs and 300k tokens per request
TIMEOUT_SECONDS = 30.0
MAX_RETRIES = 2
PROBE_TEXT = "How many dimensions?"


class OpenAIEmbedder:
    max_batch = MAX_BATCH

    def __init__(
        self,
        *,
        model: str = "",
        api_key: str = "",
        base_url: str = "",
        dimensions: int | None = None,
        compatible: bool = False,
        timeout: float = TIMEOUT_SECONDS,
        tenant_named: bool = True,
    ):
        """``tenant_named`` False only for the operator's own endpoint (OPENAI_BASE_URL or
        OpenAI itself)."""
        self.provider = "openai_compatible" if compatible else "openai"
        self.compatible = compatible
        self.model = model.strip() or ("" if compatible else OPENAI_DEFAULT_MODEL)
        if not self.model:
            raise EmbeddingError("Name the embedding model your server serves.")
        if compatible and not base_url:
            raise EmbeddingError("Enter the address of your OpenAI-compatible embeddings server.")
        if not compatible and not api_key:
            raise EmbeddingError(
                "No OpenAI API key is set for embeddings; add one in the knowledge base's settings."
            )
        if dimensions is not None and dimensions < 1:
            raise EmbeddingError("The vector size must be a positive number.")
        native, shortens = OPENAI_MODELS.get(self.model, (None, False)) if not compatible else (None, False)
        if native and dimensions and (dimensions > native or (dimensions != native and not shortens)):
            sizes = f"at most {native}" if shortens else f"only {native}"
            raise EmbeddingError(f"{self.model} makes vectors of {sizes} dimensions, not {dimensions}.")
        self._dimensions = dimensions or native
        # Unknown OpenAI models (newer ones) get the size when one is asked for.
        self._send_dimensions = shortens or (not compatible and native is None and dimensions is not None)
        self._api_key, self._base_url, self._timeout = api_key, base_url, timeout
        self._tenant_named = tenant_named
        self._client: openai.OpenAI | None = None
        self._lock = threading.Lock()
        # The requested size is part of the id (OpenAI shortens vectors on request); a compatible
        # server's model has its own size unless one was asked for.
        size = dimensions or native
        self.model_id = f"{self.provider}:{self.model}" + (f":{size}" if size else "")

    def __repr__(self) -> str:
        return f"<OpenAIEmbedder {self.model_id} at {self._where()}>"

    @property
    def dimensions(self) -> int:
        """The vector size; when neither asked for nor known, one short text is embedded to
        learn it."""
        if self._dimensions is None:
            self._dimensions = len(self.embed_query(PROBE_TEXT))
        return self._dimensions

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        texts = list(texts)
        vectors: list[list[float]] = []
        for start in range(0, len(texts), MAX_BATCH):
            vectors += self._request(texts[start : start + MAX_BATCH]).tolist()
        return vectors

    def embed_query(self, text: str) -> list[float]:
        row: list[float] = self._request([text])[0].tolist()
        return row

    # -- one request ------------------------------------------------------------------------------

    def _request(self, texts: list[str]) -> np.ndarray:
        # The API refuses empty strings; a space embeds as (next to) nothing.
        inputs = [text or " " for text in texts]
        vectors = self._call(inputs, send_dimensions=self._send_dimensions)
        size, wanted = vectors.shape[1], self._dimensions
        if wanted is not None and size != wanted and self.compatible and not self._send_dimensions:
            # An MRL model asked for shorter vectors: only now is ``dimensions`` worth sending.
            try:
                shortened = self._call(inputs, send_dimensions=True)
            except EmbeddingError:
                shortened = None  # the server refuses the parameter: the size is the model's own
            if shortened is not None and shortened.shape[1] == wanted:
                self._send_dimensions = True
                return shortened
        if wanted is not None and size != wanted:
            raise EmbeddingError(
                f"The embedding model {self.model} makes vectors of {size} dimensions, not the "
                f"{wanted} this knowledge base uses. Choose a vector size of {size}, or a model "
                f"that makes {wanted}."
            )
        self._dimensions = size
        return vectors

    def _call(self, inputs: list[str], *, send_dimensions: bool) -> np.ndarray:
        # An omitted argument is left out of the request.
        dimensions = self._dimensions if send_dimensions and self._dimensions is not None else openai.omit
        # Compatible servers are asked for floats: not every one of them sends base64.
        encoding: Literal["float"] | openai.Omit = "float" if self.compatible else openai.omit
        try:
            response = self._sdk().embeddings.create(
                model=self.model, input=inputs, dimensions=dimensions, encoding_format=encoding
            )
        except UnsafeAddress as exc:
            raise self._refused(exc) from exc
        except openai.APIError as exc:
            raise self._error(exc) from exc
        except (openai.OpenAIError, httpx2.HTTPError, ValueError) as exc:  # unreadable answers
            raise EmbeddingError(
                f"The embedding service at {self._where()} sent an answer that could not be read."
            ) from exc
        data = sorted(response.data or [], key=lambda item: item.index)
        if len(data) != len(inputs):
            raise EmbeddingError(
                f"The embedding service at {self._where()} returned {len(data)} vectors "
                f"for {len(inputs)} texts."
            )
        try:
            vectors = np.array([item.embedding for item in data], dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise EmbeddingError(
                f"The embedding service at {self._where()} returned malformed vectors."
            ) from exc
        if vectors.ndim != 2 or not vectors.shape[1] or not np.isfinite(vectors).all():
            raise EmbeddingError(f"The embedding service at {self._where()} returned malformed vectors.")
        if not np.linalg.norm(vectors, axis=1).all():
            raise EmbeddingError(f"The embedding service at {self._where()} returned an all-zero vector.")
        return unit_rows(vectors)

    def _sdk(self) -> openai.OpenAI:
        with self._lock:
            if self._client is None:
                self._client = openai_sync_client(
                    api_key=self._api_key,
                    base_url=self._base_url,
                    timeout=self._timeout,
                    max_retries=MAX_RETRIES,
                    tenant_named=self._tenant_named,
                )
            return self._client

    def _where(self) -> str:
        parts = urlsplit(self._base_url or "https://api.openai.com/v1")
        host = parts.hostname or "?"
        return f"{host}:{parts.port}" if parts.port else host

    def _refused(self, exc: UnsafeAddress) -> EmbeddingError:
        return EmbeddingError(f"The embedding server address is refused: {exc}")

    def _error(self, exc: openai.APIError) -> EmbeddingError:
        refusal = refusal_in(exc)
        if refusal is not None:
            return self._refused(refusal)
        who = "OpenAI" if not self.compatible else f"The embedding server at {self._where()}"
        if isinstance(exc, openai.APITimeoutError):
            return EmbeddingError(f"{who} did not answer within {self._timeout:g} seconds. Try again later.")
        if isinstance(exc, openai.APIConnectionError):
            return EmbeddingError(
                f"{who} could not be reached. Check the server address and that the server is running."
                if self.compatible
                else "OpenAI could not be reached. Try again later."
            )
        if not isinstance(exc, openai.APIStatusError):
            return EmbeddingError(f"{who} sent an answer that could not be read.")
        status = exc.status_code
        code = str(exc.code or exc.type or "") if isinstance(exc.body, dict) else ""
        if status in (401, 403):
            return EmbeddingError(
                f"{who} refused the API key (HTTP {status}). Check the key in the knowledge base's settings."
            )
        if status == 429 and code in ("insufficient_quota", "billing_hard_limit_reached"):
            return EmbeddingError(f"{who} refused: the account's quota or credit is used up (HTTP 429).")
        if status == 429:
            return EmbeddingError(f"{who} is rate limiting requests (HTTP 429). Try again in a few minutes.")
        if status == 404:
            return EmbeddingError(
                f"{who} does not know the model {self.model!r} (HTTP 404). Check the model name"
                + (" and the server address (it usually ends in /v1)." if self.compatible else ".")
            )
        if 300 <= status < 400:
            return EmbeddingError(
                f"{who} answered with a redirect (HTTP {status}), which is not followed. "
                "Enter the final address of the server."
            )
        if status >= 500:
            return EmbeddingError(f"{who} had an internal error (HTTP {status}). Try again later.")
        detail = self._scrubbed(_message(exc))[:300]
        return EmbeddingError(
            f"{who} refused the request (HTTP {status})" + (f": {detail}" if detail else ".")
        )

    def _scrubbed(self, text: str) -> str:
        return text.replace(self._api_key, "[key]") if len(self._api_key) >= 4 else text


def _message(exc: openai.APIStatusError) -> str:
    """The server's own words: error.message of an OpenAI-style body, else message/detail."""
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error")
        for value in (
            error.get("message") if isinstance(error, dict) else error,
            body.get("message"),
            body.get("detail"),
        ):
            if isinstance(value, str) and value.strip():
                return " ".join(value.split())
    return ""
