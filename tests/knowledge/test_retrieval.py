"""knowledge.retrieval: hybrid retrieval (vectors and full text fused by reciprocal rank)
against the real database, model and index, in the tenant's own schema only."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from knowledge import ingestion
from knowledge.models import KnowledgeBase
from knowledge.retrieval import retrieve
from knowledge.services import source_add_text

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_background_ingestion(monkeypatch):
    """Sources are ingested by calling the pipeline in the test (not on a thread)."""
    monkeypatch.setattr("knowledge.services.enqueue_on_commit", lambda *a, **k: None)


def _kb(seeded) -> KnowledgeBase:
    return KnowledgeBase.objects.order_by("id").first()


def test_another_tenants_chunks_never_come_back(tenant_a, tenant_b):
    for seeded in (tenant_a, tenant_b):
        with tenant_context(seeded.tenant):
            source = source_add_text(
                tenant=seeded.tenant,
                kb=_kb(seeded),
                title=f"{seeded.marker} handbook",
                text=f"# Secret\n\nThe {seeded.marker} vault code is kept in the safe.\n",
            )
            ingestion.source_ingest(source.pk)
    with tenant_context(tenant_a.tenant):
        found = retrieve(query="vault code MARKER-B", limit=10)
    assert found and all("MARKER-A" in p.text for p in found)
    assert not any("MARKER-B" in (p.text + p.title) for p in found)


# A small labelled set: some questions need exact terms (codes, model names) that embeddings
# blur; others are paraphrases that share no word with their answer.
CORPUS = """# Refunds

You can send items back within 30 days for a full refund to your card.

# Shipping to Germany

Parcels to Germany travel with DHL and arrive in 3 to 5 working days.

# Gift cards

Gift cards never expire and can be combined with discount codes.

# Warranty

Every appliance carries a two-year warranty covering manufacturing defects.

# Error E-4471

Error code E-4471 means the water filter cartridge is not seated; push it in until it clicks.

# Error E-2290

Code E-2290 indicates the drain pump is blocked; clean the pump filter.

# Support hours

Our support line is staffed Monday to Friday, 8am to 6pm CET.

# Account access

To change your login credentials open Settings, then Security, and choose Reset.

# Student discount

Students get 15% off with a valid university email address.

# XR-200 size

The XR-200 measures 60 x 55 x 85 cm and weighs 42 kg.

# XR-300 size

The XR-300 measures 60 x 60 x 90 cm and weighs 48 kg.

# Payment methods

We accept Visa, Mastercard, PayPal and bank transfer.

# Part 88213

Part number 88213 is the replacement hinge for the oven door.

# Part 88231

Part number 88231 is the replacement gasket for the oven door.

# Part 83218

Part number 83218 is the replacement handle for the oven door.

# Error E-4417

Error code E-4417 means the door lock failed; unplug the machine for one minute.

# Part 82313

Part number 82313 is the replacement knob for the oven door.
"""


QUESTIONS = {
    "What does E-4471 mean?": "Error E-4471",
    "E-2290 on the display": "Error E-2290",
    "How heavy is the XR-300?": "XR-300 size",
    "XR-200 weight": "XR-200 size",
    "How do I get my money back?": "Refunds",
    "When can I phone you?": "Support hours",
    "Do you take credit cards?": "Payment methods",
    "How long until my order reaches Berlin?": "Shipping to Germany",
    "I forgot how to sign in": "Account access",
    "Is there a cheaper price for people at college?": "Student discount",
    "What if the machine breaks in the first year?": "Warranty",
    "Do vouchers run out?": "Gift cards",
    "88231": "Part 88231",
    "Do you stock part 83218?": "Part 83218",
    "price of 88213": "Part 88213",
    "E-4417": "Error E-4417",
    "I need 82313": "Part 82313",
    "what is 88231 for": "Part 88231",
}


def _mrr(method_results: dict[str, list[str]]) -> float:
    total = 0.0
    for question, expected in QUESTIONS.items():
        found = method_results[question]
        total += 1 / (found.index(expected) + 1) if expected in found else 0
    return total / len(QUESTIONS)


def test_hybrid_retrieval_beats_each_method_alone(tenant_a):
    with tenant_context(tenant_a.tenant):
        source = source_add_text(tenant=tenant_a.tenant, kb=_kb(tenant_a), title="Help centre", text=CORPUS)
        ingestion.source_ingest(source.pk)
        scores = {}
        for name, methods in {"hybrid": ("vector", "text"), "vector": ("vector",), "text": ("text",)}.items():
            results = {
                q: [p.heading_path for p in retrieve(query=q, limit=5, methods=methods)] for q in QUESTIONS
            }
            scores[name] = _mrr(results)
    assert scores["hybrid"] > scores["vector"] and scores["hybrid"] > scores["text"], scores


def test_keyword_search_answers_alone_when_the_embedding_server_is_down(tenant_a, settings, caplog):
    """EMBEDDING_SERVER_URL names a server that is not running: a visitor's question still
    finds its passage by its words (one warning, not one per question); a vector-only search
    says why it cannot run."""
    import socket

    from knowledge import retrieval
    from knowledge.embeddings import EmbeddingError

    with tenant_context(tenant_a.tenant):
        source = source_add_text(tenant=tenant_a.tenant, kb=_kb(tenant_a), title="Shipping", text=CORPUS)
        ingestion.source_ingest(source.pk)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            settings.EMBEDDING_SERVER_URL = f"http://127.0.0.1:{s.getsockname()[1]}"  # closed
        retrieval._embedding_warned = 0.0
        found = retrieve(query="error code E-4471", limit=3)
        again = retrieve(query="What does E-2290 mean?", limit=3)
        with pytest.raises(EmbeddingError, match="could not be reached"):
            retrieve(query="error code E-4471", methods=("vector",))
    assert "E-4471" in found[0].text and "E-2290" in again[0].text
    assert found[0].ranks == {"text": 1}
    warnings = [r for r in caplog.records if "full-text search alone" in r.getMessage()]
    assert len(warnings) == 1


def test_passages_are_read_without_the_chunks_vectors(tenant_a):
    """A passage shows text, title, address and page: the rows are read without the
    chunk's vector and search vector (decoding a vector per row was most of the read)."""
    with tenant_context(tenant_a.tenant):
        source = source_add_text(
            tenant=tenant_a.tenant,
            kb=_kb(tenant_a),
            title="Shipping help",
            text="# Shipping\n\nParcels to Germany arrive in 3 to 5 working days.\n",
        )
        ingestion.source_ingest(source.pk)
        with CaptureQueriesContext(connection) as queries:
            [passage] = retrieve(query="When do parcels to Germany arrive?", limit=1)
    assert passage.text.startswith("Parcels to Germany") and passage.title == "Shipping help"
    assert passage.heading_path == "Shipping" and passage.source_id == source.pk
    [rows] = [
        q["sql"] for q in queries.captured_queries if "IN (" in q["sql"] and "knowledge_document" in q["sql"]
    ]
    assert '"embedding"' not in rows and '"search_vector"' not in rows
