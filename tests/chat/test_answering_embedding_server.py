"""A visitor's question while the embedding server (knowledge.embeddings.server) is down:
answered from keyword search, never a 500 (knowledge.retrieval falls back)."""

from __future__ import annotations

import socket

import pytest
from django_tenants.utils import tenant_context

from knowledge import ingestion
from knowledge.models import KnowledgeBase
from knowledge.services import source_add_text
from tests.fakes.llm_server import Behaviour

pytestmark = pytest.mark.django_db


def test_the_visitor_is_answered_from_keywords_when_the_embedding_server_is_down(
    client, visitor, fake_llm, settings, monkeypatch
):
    monkeypatch.setattr("knowledge.services.enqueue_on_commit", lambda *a, **k: None)  # ingested below
    with tenant_context(visitor.tenant):
        kb = KnowledgeBase.objects.order_by("id").first()
        text = "# Shipping\n\nParcels to Germany arrive in 3 to 5 working days with DHL.\n"
        source = source_add_text(tenant=visitor.tenant, kb=kb, title="Shipping", text=text)
        ingestion.source_ingest(source.pk)  # the local model, in this process
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        settings.EMBEDDING_SERVER_URL = f"http://127.0.0.1:{s.getsockname()[1]}"  # nothing listens
    fake_llm.enqueue(Behaviour(text="They arrive in 3 to 5 working days [1]."))
    response = visitor.send(client, "When do parcels to Germany arrive?")
    assert response.status_code == 201, response.content
    answer = response.json()["answer"]
    assert answer["outcome"] == "answered" and answer["message"]["citations"][0]["title"] == "Shipping"
    assert "3 to 5 working days with DHL" in fake_llm.requests[-1].body["system"]
