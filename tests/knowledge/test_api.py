"""knowledge.apis, the workspace API's knowledge bases and search: list by cursor, create,
read, update as the settings page does, delete with everything under it; search answering
exactly what retrieval returns; the roles of the dashboard's "knowledge" section for every
knowledge endpoint (sources and documents too), another workspace's ids, problem details,
the OpenAPI document. Sources and documents: test_api_sources.py."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from knowledge import ingestion
from knowledge.models import Chunk, Document, KnowledgeBase, Source
from knowledge.retrieval import retrieve
from knowledge.services import source_add_text
from tests.billing.scenarios import restricted
from tests.knowledge.factories import ChunkFactory, DocumentFactory, KnowledgeBaseFactory, SourceFactory
from tests.knowledge.shop_faq import SHOP_FAQ
from tests.tenants.factories import ApiKeyFactory, MembershipFactory

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"
BASE = "/api/v1/knowledge-bases"
CALLERS = ["owner", "admin", "agent", "key:admin", "key:agent", "stranger", "anonymous"]


@pytest.fixture(autouse=True)
def queued(monkeypatch) -> list:
    """What the services queue, recorded instead of run (ingestion is run by the tests)."""
    calls: list = []
    monkeypatch.setattr(
        "knowledge.services.enqueue_on_commit", lambda task, *args, **kwargs: calls.append((task.name, args))
    )
    return calls


def client_for(seeded, caller: str = "owner", other=None) -> Client:
    """A client of ``seeded``'s host as ``caller`` (see CALLERS; ``other`` is the stranger's workspace)."""
    client = Client(HTTP_HOST=seeded.host)
    if caller.startswith("key:"):
        secret = ApiKeyFactory(tenant=seeded.tenant, role=caller[4:]).secret
        client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    elif caller == "stranger":
        client.force_login(other.owner)
    elif caller == "owner":
        client.force_login(seeded.owner)
    elif caller != "anonymous":
        client.force_login(MembershipFactory(tenant=seeded.tenant, role=caller).user)
    return client


def send(client: Client, method: str, path: str, body=None):
    if method == "get":
        return client.get(path)
    if method == "delete":
        return client.delete(path)
    data = json.dumps(body if body is not None else {})
    return getattr(client, method)(path, data, content_type="application/json")


def errors_of(response) -> dict:
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == PROBLEM
    return response.json()["errors"]


def tree(seeded, name="Help center", status=Source.Status.READY):
    """A knowledge base with a Q&A source, its document and one chunk."""
    with tenant_context(seeded.tenant):
        kb = KnowledgeBaseFactory(name=name)
        source = SourceFactory(
            knowledge_base=kb,
            kind=Source.Kind.QA,
            status=status,
            qa_pairs=[{"question": "Open?", "answer": "9 to 5."}],
        )
        document = DocumentFactory(source=source, key="qa", title="FAQ")
        ChunkFactory(document=document)
    return kb, source, document


# --- knowledge bases ---------------------------------------------------------------------


def test_list_shows_this_workspaces_bases_with_their_counts(tenant_a, tenant_b):
    kb, _, _ = tree(tenant_a)
    tree(tenant_b, name="MARKER-B base")
    response = client_for(tenant_a).get(BASE)
    assert response.status_code == 200
    assert "MARKER-B" not in response.content.decode()
    row = next(r for r in response.json()["results"] if r["id"] == kb.pk)
    assert (row["source_count"], row["document_count"], row["chunk_count"]) == (1, 1, 1)
    assert row["embedding"] == {
        "provider": "local",
        "model": "",
        "dimensions": 384,
        "base_url": "",
        "has_api_key": False,
    }
    assert row["created_at"].endswith("Z")


def test_list_pages_with_no_gap_or_repeat(tenant_a):
    with tenant_context(tenant_a.tenant):
        made = {KnowledgeBaseFactory(name=f"Base {i}").pk for i in range(5)}
        total = KnowledgeBase.objects.count()
    client = client_for(tenant_a)
    for ordering in ("name", "-created_at"):
        seen: list[int] = []
        path = f"{BASE}?limit=2&ordering={ordering}"
        for _ in range(10):
            body = client.get(path).json()
            seen += [row["id"] for row in body["results"]]
            if body["next_cursor"] is None:
                break
            path = f"{BASE}?limit=2&ordering={ordering}&cursor={body['next_cursor']}"
        assert len(seen) == len(set(seen)) == total
        assert made <= set(seen)


def test_bad_list_parameters_are_422_per_field(tenant_a):
    errors = errors_of(client_for(tenant_a).get(f"{BASE}?limit=0&ordering=size&cursor=zzz"))
    assert set(errors) == {"limit", "ordering", "cursor"}


def test_create_read_update(tenant_a):
    client = client_for(tenant_a)
    response = send(
        client, "post", BASE, {"name": "  Returns  ", "description": "Policies", "language": "german"}
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert (created["name"], created["language"], created["source_count"]) == ("Returns", "german", 0)
    path = f"{BASE}/{created['id']}"
    assert client.get(path).json() == created
    response = send(client, "patch", path, {"name": "Returns EU", "min_relevance": 0.45})
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "Returns EU" and response.json()["min_relevance"] == 0.45
    assert response.json()["description"] == "Policies" and response.json()["language"] == "german"
    with tenant_context(tenant_a.tenant):
        kb = KnowledgeBase.objects.get(pk=created["id"])
        assert (kb.name, kb.description, kb.min_relevance) == ("Returns EU", "Policies", 0.45)
    assert send(client, "patch", path, {"min_relevance": None}).json()["min_relevance"] is None


def test_bad_input_is_422_per_field(tenant_a):
    kb, _, _ = tree(tenant_a)
    client = client_for(tenant_a)
    errors = errors_of(send(client, "post", BASE, {"name": "", "language": "klingon"}))
    assert set(errors) == {"name", "language"}
    assert set(errors_of(send(client, "post", BASE, {"name": "x" * 121}))) == {"name"}
    errors = errors_of(
        send(client, "patch", f"{BASE}/{kb.pk}", {"min_relevance": 2, "embedding": {"provider": "x"}})
    )
    assert set(errors) == {"min_relevance", "embedding.provider"}
    # The service's refusals of the model are named the same way.
    errors = errors_of(send(client, "patch", f"{BASE}/{kb.pk}", {"embedding": {"provider": "openai"}}))
    assert set(errors) == {"embedding.api_key"}
    # The service's refusals too: the language is fixed once something is indexed.
    errors = errors_of(send(client, "patch", f"{BASE}/{kb.pk}", {"language": "french"}))
    assert errors["language"][0]["code"] == "language_locked"


def test_a_new_embedding_model_is_stored_and_re_embedded(tenant_a, queued):
    kb, _, _ = tree(tenant_a)
    body = {"embedding": {"provider": "openai", "api_key": "sk-embed-SECRET"}}
    response = send(client_for(tenant_a), "patch", f"{BASE}/{kb.pk}", body)
    assert response.status_code == 200, response.content
    assert response.json()["embedding"] == {
        "provider": "openai",
        "model": "text-embedding-3-small",
        "dimensions": 1536,
        "base_url": "",
        "has_api_key": True,
    }
    assert response.json()["reembedding"] is True and "SECRET" not in response.content.decode()
    assert queued == [("knowledge.tasks.knowledge_base_reembed_task", (kb.pk,))]


def test_delete_removes_everything_under_the_base(tenant_a, django_capture_on_commit_callbacks):
    kb, source, _ = tree(tenant_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(tenant_a).delete(f"{BASE}/{kb.pk}")
    assert response.status_code == 204
    with tenant_context(tenant_a.tenant):
        assert not KnowledgeBase.objects.filter(pk=kb.pk).exists()
        assert not Source.objects.filter(pk=source.pk).exists()
        assert not Document.objects.filter(knowledge_base_id=kb.pk).exists()
        assert not Chunk.objects.filter(knowledge_base_id=kb.pk).exists()
    assert client_for(tenant_a).get(f"{BASE}/{kb.pk}").status_code == 404


# --- search ----------------------------------------------------------------------------------


@pytest.fixture
def faq(tenant_a):
    """The shop FAQ ingested into a knowledge base of its own (real chunks and vectors)."""
    with tenant_context(tenant_a.tenant):
        kb = KnowledgeBaseFactory(name="Shop")
        source = source_add_text(tenant=tenant_a.tenant, kb=kb, title="Shop FAQ", text=SHOP_FAQ)
        ingestion.source_ingest(source.pk)
    return kb


def test_search_answers_what_retrieval_returns(tenant_a, faq):
    query = "Can I send an item back?"
    response = send(
        client_for(tenant_a, "agent"), "post", f"{BASE}/{faq.pk}/search", {"query": query, "limit": 4}
    )
    assert response.status_code == 200, response.content
    passages = response.json()["passages"]
    with tenant_context(tenant_a.tenant):
        expected = retrieve(query=query, knowledge_base_ids=[faq.pk], limit=4)
        chunks = {c.pk: c for c in Chunk.objects.filter(pk__in=[p.chunk_id for p in expected])}
    assert len(passages) == len(expected) > 0
    for got, want in zip(passages, expected, strict=True):
        assert got["rank"] == want.rank and got["ranks"] == want.ranks
        assert got["score"] == want.score and got["similarity"] == want.similarity
        assert got["relevant"] == want.relevant and got["text"] == want.text
        assert (got["chunk_id"], got["source_id"]) == (want.chunk_id, want.source_id)
        assert got["document_id"] == chunks[want.chunk_id].document_id
        assert (got["title"], got["url"], got["file"], got["page"]) == (
            want.title,
            want.url,
            want.file,
            want.page,
        )
    assert [p["rank"] for p in passages] == list(range(1, len(passages) + 1))


def test_search_by_one_method_and_across_every_base(tenant_a, faq):
    client = client_for(tenant_a, "key:agent")
    body = {"query": "shipping costs", "methods": ["text"]}
    passages = send(client, "post", f"{BASE}/{faq.pk}/search", body).json()["passages"]
    assert passages and all(set(p["ranks"]) == {"text"} and p["similarity"] is None for p in passages)
    across = send(client, "post", f"{BASE}/search", {"query": "shipping costs"})
    assert across.status_code == 200
    assert {p["source_id"] for p in across.json()["passages"]} >= {passages[0]["source_id"]}


def test_a_read_only_workspace_still_searches_but_changes_nothing(tenant_a, faq):
    """Unpaid past its grace, a workspace refuses changes; a search is posted but only reads."""
    restricted(tenant_a.tenant)
    client = client_for(tenant_a)
    for path in (f"{BASE}/{faq.pk}/search", f"{BASE}/search"):
        response = send(client, "post", path, {"query": "shipping costs"})
        assert response.status_code == 200 and response.json()["passages"], response.content
    assert send(client, "post", BASE, {"name": "More"}).status_code == 403


def test_search_of_an_empty_base_finds_nothing(tenant_a):
    with tenant_context(tenant_a.tenant):
        kb = KnowledgeBaseFactory()
    response = send(client_for(tenant_a), "post", f"{BASE}/{kb.pk}/search", {"query": "anything"})
    assert response.status_code == 200 and response.json() == {"passages": []}


def test_bad_search_input_is_422_per_field(tenant_a, faq):
    client = client_for(tenant_a)
    path = f"{BASE}/{faq.pk}/search"
    errors = errors_of(send(client, "post", path, {"query": "", "limit": 0, "methods": ["words"]}))
    assert set(errors) == {"query", "limit", "methods"}
    assert set(errors_of(send(client, "post", path, {"query": "x" * 2001, "methods": []}))) == {
        "query",
        "methods",
    }


def test_a_vector_search_without_the_embedding_model_is_503(tenant_a, faq, monkeypatch):
    from knowledge.embeddings.base import EmbeddingError

    real = ingestion.kb_embedder

    class Down:
        def __init__(self, kb):
            embedder = real(kb)
            self.model_id, self.dimensions = embedder.model_id, embedder.dimensions

        def embed_query(self, text):
            raise EmbeddingError("The embedding server is down.")

    monkeypatch.setattr("knowledge.ingestion.kb_embedder", Down)
    client = client_for(tenant_a)
    path = f"{BASE}/{faq.pk}/search"
    response = send(client, "post", path, {"query": "shipping", "methods": ["vector"]})
    assert response.status_code == 503 and response["Content-Type"] == PROBLEM
    both = send(client, "post", path, {"query": "shipping"})
    assert both.status_code == 200 and both.json()["passages"]  # the words alone answer


# --- who may, for every knowledge endpoint ---------------------------------------------------


def calls(kb, source, document):
    """Every knowledge endpoint: (method, path, body, whether it changes something)."""
    k, s, d = (
        f"{BASE}/{kb.pk}",
        f"{BASE}/{kb.pk}/sources/{source.pk}",
        f"{BASE}/{kb.pk}/documents/{document.pk}",
    )
    return [
        ("get", BASE, None, False),
        ("get", k, None, False),
        ("post", f"{k}/search", {"query": "open"}, False),
        ("post", f"{BASE}/search", {"query": "open"}, False),
        ("get", f"{k}/sources", None, False),
        ("get", s, None, False),
        ("get", f"{s}/documents", None, False),
        ("get", f"{k}/documents", None, False),
        ("get", d, None, False),
        ("post", BASE, {"name": "New"}, True),
        ("patch", k, {"name": "Renamed"}, True),
        ("post", f"{k}/sources", {"kind": "text", "text": "Hello"}, True),
        ("delete", d, None, True),
        ("post", f"{s}/sync", None, True),
        ("patch", s, {"qa_pairs": [{"question": "Open?", "answer": "9 to 6."}]}, True),
        ("delete", s, None, True),
        ("delete", k, None, True),
    ]


@pytest.mark.parametrize("caller", CALLERS)
def test_role_matrix(tenant_a, tenant_b, caller):
    client = client_for(tenant_a, caller, other=tenant_b)
    managers = caller in ("owner", "admin", "key:admin")
    for method, path, body, writes in calls(*tree(tenant_a)):
        response = send(client, method, path, body)
        if caller == "anonymous":
            expected = {401}
        elif caller == "stranger":
            expected = {404}
        elif writes and not managers:
            expected = {403}
        else:
            expected = {200, 201, 202, 204}
        assert response.status_code in expected, (
            caller,
            method,
            path,
            response.status_code,
            response.content,
        )
        if response.status_code >= 400:
            assert response["Content-Type"] == PROBLEM
    with tenant_context(tenant_a.tenant):
        assert KnowledgeBase.objects.filter(name="New").exists() == managers


def test_another_workspaces_ids_are_404(tenant_a, tenant_b):
    theirs = tree(tenant_b, name="MARKER-B base")
    mine = tree(tenant_a)
    client = client_for(tenant_a)
    for method, path, body, _ in calls(*theirs):
        if path in (BASE, f"{BASE}/search"):
            continue
        response = send(client, method, path, body)
        assert response.status_code == 404, (method, path, response.status_code)
        assert response["Content-Type"] == PROBLEM and "MARKER-B" not in response.content.decode()
    # A source or document of another knowledge base of the same workspace is not found under this one.
    _, source, document = mine
    other = tree(tenant_a, name="Other")[0]
    for path in (f"{BASE}/{other.pk}/sources/{source.pk}", f"{BASE}/{other.pk}/documents/{document.pk}"):
        assert client.get(path).status_code == 404
    with tenant_context(tenant_b.tenant):
        assert KnowledgeBase.objects.filter(pk=theirs[0].pk, name="MARKER-B base").exists()
        assert Source.objects.filter(pk=theirs[1].pk).exists()


def test_openapi_document_lists_the_knowledge_endpoints(tenant_a, tmp_path):
    call_command(
        "spectacular",
        "--urlconf",
        "saas.urls_tenant",
        "--validate",
        "--fail-on-warn",
        "--file",
        str(tmp_path / "schema.yml"),
    )
    connection.set_schema_to_public()
    schema = Client(HTTP_HOST=tenant_a.host).get(
        "/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json"
    )
    paths = schema.json()["paths"]
    for path in (
        BASE,
        BASE + "/search",
        BASE + "/{kb_id}",
        BASE + "/{kb_id}/search",
        BASE + "/{kb_id}/sources",
        BASE + "/{kb_id}/sources/upload",
        BASE + "/{kb_id}/sources/{source_id}",
        BASE + "/{kb_id}/sources/{source_id}/sync",
        BASE + "/{kb_id}/sources/{source_id}/documents",
        BASE + "/{kb_id}/documents",
        BASE + "/{kb_id}/documents/{document_id}",
    ):
        assert path in paths, path
        for operation in paths[path].values():
            assert operation["tags"] == ["knowledge"] and operation.get("description")
    upload = paths[BASE + "/{kb_id}/sources/upload"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert {"201", "413", "422"} <= set(upload["responses"])
