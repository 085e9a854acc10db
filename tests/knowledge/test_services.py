"""The knowledge services called directly, as the REST API will call them: creating and
updating a knowledge base (the language lock), changing its embedding model (the stored
key kept, wiped or replaced) and each refusal as problem details with per-field errors."""

from __future__ import annotations

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from knowledge import services
from knowledge.models import KnowledgeBase, Source
from knowledge.services import EmbeddingSettings
from saas.crypto import secret_decrypt, secret_encrypt
from saas.errors import ValidationFailed
from tests.knowledge.factories import ChunkFactory, DocumentFactory, KnowledgeBaseFactory, SourceFactory

pytestmark = pytest.mark.django_db

OLD_KEY = "sk-embed-OLD-11111"
NEW_KEY = "sk-embed-NEW-22222"
SERVER = "https://embeddings.example.com/v1"
REEMBED = "knowledge.tasks.knowledge_base_reembed_task"


@pytest.fixture
def queued(monkeypatch) -> list:
    """What the services queue after the commit (nothing runs)."""
    calls: list = []
    monkeypatch.setattr(
        "knowledge.services.enqueue_on_commit", lambda task, *args, **kwargs: calls.append((task.name, args))
    )
    return calls


@pytest.fixture
def schema(tenant_a):
    with tenant_context(tenant_a.tenant):
        yield tenant_a


def _problem(excinfo: pytest.ExceptionInfo) -> dict:
    body = excinfo.value.as_problem()
    assert (body["status"], body["code"]) == (422, "validation_error")
    return {field: [(e["code"], e["message"]) for e in errs] for field, errs in body["errors"].items()}


def _indexed(kb: KnowledgeBase) -> None:
    """One chunk in ``kb``: its keyword index now exists in the knowledge base's language."""
    source = SourceFactory(knowledge_base=kb, kind=Source.Kind.TEXT, title="T", text="Hello")
    ChunkFactory(document=DocumentFactory(source=source, key="text", title="T"), position=0, text="Hello")


def _with_key(provider: str = "openai", base_url: str = "", **fields) -> KnowledgeBase:
    dimensions = fields.pop("dimensions", 1536)
    return KnowledgeBaseFactory(
        name="Docs",
        embedding_provider=provider,
        embedding_model=fields.pop("model", "text-embedding-3-small"),
        embedding_dimensions=dimensions,
        embedding_base_url=base_url,
        embedding_api_key_encrypted=secret_encrypt(OLD_KEY),
    )


def _stored(kb: KnowledgeBase) -> KnowledgeBase:
    return KnowledgeBase.objects.get(pk=kb.pk)


# --- create and update -------------------------------------------------------------------


def test_create_stores_a_trimmed_knowledge_base_with_the_built_in_model(schema):
    kb = services.knowledge_base_create(name="  Returns ", description=" Desk ", language="german")
    stored = _stored(kb)
    assert (stored.name, stored.description, stored.language) == ("Returns", "Desk", "german")
    assert (stored.embedding_provider, stored.embedding_dimensions) == ("local", 384)


def test_create_refuses_a_blank_or_long_name_and_an_unknown_language(schema):
    before = KnowledgeBase.objects.count()
    with pytest.raises(ValidationFailed) as blank:
        services.knowledge_base_create(name="  ", language="klingon")
    assert _problem(blank) == {
        "name": [("required", "Name the knowledge base.")],
        "language": [("invalid_choice", "Choose one of the languages offered.")],
    }
    with pytest.raises(ValidationFailed) as long:
        services.knowledge_base_create(name="x" * 121)
    assert _problem(long) == {"name": [("max_length", "Keep the name to 120 characters.")]}
    assert KnowledgeBase.objects.count() == before


def test_update_changes_name_description_and_language_while_nothing_is_indexed(schema):
    kb = KnowledgeBaseFactory(name="Docs")
    services.knowledge_base_update(kb=kb, name="Docs 2", description="Team", language="french")
    stored = _stored(kb)
    assert (stored.name, stored.description, stored.language) == ("Docs 2", "Team", "french")
    assert kb.name == "Docs 2"


def test_update_keeps_the_language_once_content_is_indexed(schema):
    kb = KnowledgeBaseFactory(name="Docs", language="english")
    _indexed(kb)
    with pytest.raises(ValidationFailed) as refused:
        services.knowledge_base_update(kb=kb, name="Renamed", description="", language="german")
    assert _problem(refused) == {"language": [("language_locked", services.LANGUAGE_LOCKED)]}
    assert (_stored(kb).name, _stored(kb).language) == ("Docs", "english")  # nothing saved
    # The same language is no change: renaming still works.
    services.knowledge_base_update(kb=kb, name="Renamed", description="", language="english")
    assert _stored(kb).name == "Renamed"


def test_update_judges_the_language_against_what_is_stored(schema):
    """A stale object (here already saying "german") cannot slip a language change past the
    lock: the service compares with the locked row."""
    kb = KnowledgeBaseFactory(name="Docs", language="english")
    _indexed(kb)
    kb.language = "german"
    with pytest.raises(ValidationFailed):
        services.knowledge_base_update(kb=kb, name="Docs", description="", language="german")
    assert _stored(kb).language == "english"


# --- the embedding model and its key -----------------------------------------------------


def test_a_new_model_is_stored_with_its_defaults_and_re_embedded(schema, queued):
    kb = KnowledgeBaseFactory(name="Docs")
    changed = services.knowledge_base_set_embedding(kb=kb, provider="openai", api_key=NEW_KEY)
    stored = _stored(kb)
    assert changed is True and stored.reembedding is True
    assert (stored.embedding_provider, stored.embedding_model, stored.embedding_dimensions) == (
        "openai",
        "text-embedding-3-small",
        1536,
    )
    assert secret_decrypt(stored.embedding_api_key_encrypted) == NEW_KEY
    assert queued == [(REEMBED, (kb.pk,))]


def test_the_same_model_without_a_key_changes_nothing(schema, queued):
    kb = _with_key()
    assert services.knowledge_base_set_embedding(kb=kb, provider="openai", dimensions=1536) is False
    stored = _stored(kb)
    assert secret_decrypt(stored.embedding_api_key_encrypted) == OLD_KEY and not stored.reembedding
    assert queued == []


def test_the_key_is_kept_when_the_endpoint_stays(schema, queued):
    kb = _with_key("openai_compatible", SERVER, model="bge-small", dimensions=384)
    # Another model on the same server (a trailing slash is the same address).
    services.knowledge_base_set_embedding(
        kb=kb, provider="openai_compatible", model="bge-base", dimensions=1536, base_url=SERVER + "/"
    )
    stored = _stored(kb)
    assert (stored.embedding_model, stored.embedding_dimensions) == ("bge-base", 1536)
    assert secret_decrypt(stored.embedding_api_key_encrypted) == OLD_KEY
    assert queued == [(REEMBED, (kb.pk,))]


@pytest.mark.parametrize(
    ("provider", "base_url"),
    [("openai_compatible", "https://other.example.com/v1"), ("local", "")],
    ids=["another-server", "another-provider"],
)
def test_the_key_is_wiped_when_the_endpoint_changes(schema, queued, provider, base_url):
    kb = _with_key("openai_compatible", SERVER, model="bge-small", dimensions=384)
    services.knowledge_base_set_embedding(
        kb=kb, provider=provider, model="bge-small" if base_url else "", dimensions=384, base_url=base_url
    )
    stored = _stored(kb)
    assert (stored.embedding_provider, stored.embedding_base_url) == (provider, base_url)
    assert stored.embedding_api_key_encrypted == "" and kb.embedding_api_key_encrypted == ""
    assert queued == [(REEMBED, (kb.pk,))]


def test_a_key_given_with_the_change_is_encrypted_and_kept(schema, queued):
    kb = _with_key("openai_compatible", SERVER, model="bge-small", dimensions=384)
    services.knowledge_base_set_embedding(kb=kb, provider="openai", api_key=NEW_KEY)
    stored = _stored(kb)
    assert stored.embedding_api_key_encrypted != NEW_KEY  # encrypted at rest
    assert secret_decrypt(stored.embedding_api_key_encrypted) == NEW_KEY
    # A new key alone (same model) replaces the old one and re-embeds.
    services.knowledge_base_set_embedding(kb=kb, provider="openai", api_key=OLD_KEY)
    assert secret_decrypt(_stored(kb).embedding_api_key_encrypted) == OLD_KEY
    assert queued == [(REEMBED, (kb.pk,))] * 2


def test_openai_needs_a_key_unless_one_is_kept_for_it(schema, queued):
    kb = _with_key("openai_compatible", SERVER, model="bge-small", dimensions=384)
    with pytest.raises(ValidationFailed) as refused:
        services.knowledge_base_set_embedding(kb=kb, provider="openai")  # the server's key stays there
    assert _problem(refused) == {"api_key": [("required", "Paste your OpenAI API key.")]}
    stored = _stored(kb)
    assert (stored.embedding_provider, secret_decrypt(stored.embedding_api_key_encrypted)) == (
        "openai_compatible",
        OLD_KEY,
    )
    assert queued == []


@pytest.mark.parametrize(
    ("wanted", "errors"),
    [
        (
            {"provider": "local", "dimensions": 1536},
            {"dimensions": [("invalid", "The built-in model makes vectors of size 384.")]},
        ),
        (
            {"provider": "openai", "dimensions": 512, "api_key": "sk-1"},
            {"dimensions": [("invalid_choice", "Only vectors of size 384 or 1536 are indexed.")]},
        ),
        (
            {"provider": "cohere"},
            {"provider": [("invalid", "Choose the built-in model, OpenAI or an OpenAI-compatible server.")]},
        ),
        (
            {"provider": "openai_compatible"},
            {
                "dimensions": [("required", "Choose the size of your model's vectors: 384 or 1536.")],
                "model": [("required", "Name the model your server serves.")],
                "base_url": [("required", "Enter the address of your OpenAI-compatible server.")],
            },
        ),
        (
            {
                "provider": "openai_compatible",
                "model": "m",
                "dimensions": 384,
                "base_url": "http://10.0.0.1/v1",
            },
            {"base_url": [("unsafe_url", "This address is not on the public internet.")]},
        ),
        (
            {"provider": "openai_compatible", "model": "m", "dimensions": 384, "base_url": "ftp://e.example"},
            {"base_url": [("unsafe_url", "Use an http:// or https:// address.")]},
        ),
        (
            {"provider": "openai", "model": "m" * 121, "api_key": "sk-1"},
            {"model": [("max_length", "Keep the model name to 120 characters.")]},
        ),
        (
            {"provider": "openai", "model": "text-embedding-ada-002", "dimensions": 384, "api_key": "sk-1"},
            {
                "dimensions": [
                    ("invalid", "text-embedding-ada-002 makes vectors of only 1536 dimensions, not 384.")
                ]
            },
        ),
    ],
    ids=[
        "local-size",
        "unindexed-size",
        "unknown-provider",
        "server-incomplete",
        "private-server",
        "not-http",
        "long-model",
        "model-and-size",
    ],
)
def test_embedding_refusals_are_problem_details_and_change_nothing(schema, queued, settings, wanted, errors):
    settings.LLM_ALLOW_PRIVATE_BASE_URLS = False
    kb = KnowledgeBaseFactory(name="Docs")
    with pytest.raises(ValidationFailed) as refused:
        services.knowledge_base_set_embedding(kb=kb, **wanted)
    assert _problem(refused) == errors
    assert (_stored(kb).embedding_provider, _stored(kb).reembedding, queued) == ("local", False, [])


# --- the settings page's service -----------------------------------------------------------


def test_settings_save_names_every_field_at_fault_and_saves_nothing(schema, queued):
    kb = KnowledgeBaseFactory(name="Docs", language="english")
    _indexed(kb)
    with pytest.raises(ValidationFailed) as refused:
        services.knowledge_base_settings_save(
            kb=kb,
            name="",
            description="",
            language="german",
            embedding=EmbeddingSettings(provider="openai"),
        )
    assert set(_problem(refused)) == {"name", "language", "api_key"}
    assert (_stored(kb).name, _stored(kb).embedding_provider, queued) == ("Docs", "local", [])


def test_settings_save_stores_both_parts_in_one_save(schema, queued):
    kb = _with_key()
    counter = _UpdateCounter()
    with connection.execute_wrapper(counter):
        changed = services.knowledge_base_settings_save(
            kb=kb,
            name="Docs 2",
            description="",
            language="english",
            embedding=EmbeddingSettings(provider="openai", model="text-embedding-3-large", dimensions=1536),
        )
    stored = _stored(kb)
    assert changed is True and (stored.name, stored.embedding_model) == ("Docs 2", "text-embedding-3-large")
    assert secret_decrypt(stored.embedding_api_key_encrypted) == OLD_KEY  # same endpoint
    assert counter.updates == 1 and queued == [(REEMBED, (kb.pk,))]
    # Only the name: no re-embedding.
    assert not services.knowledge_base_settings_save(
        kb=kb,
        name="Docs 3",
        description="",
        language="english",
        embedding=EmbeddingSettings(provider="openai", model="text-embedding-3-large", dimensions=1536),
    )
    assert len(queued) == 1


class _UpdateCounter:
    def __init__(self) -> None:
        self.updates = 0

    def __call__(self, execute, sql, params, many, context):
        if sql.lstrip().upper().startswith('UPDATE "KNOWLEDGE_KNOWLEDGEBASE"'):
            self.updates += 1
        return execute(sql, params, many, context)


# --- sources ---------------------------------------------------------------------------------


def test_replacing_qa_pairs_can_rename_the_source(schema, queued):
    kb = KnowledgeBaseFactory(name="Docs")
    pairs = [{"question": "Open?", "answer": "Nine to five."}]
    source = services.source_set_qa(tenant=schema.tenant, kb=kb, pairs=pairs, title="FAQ")
    services.source_set_qa(tenant=schema.tenant, kb=kb, pairs=pairs, source=source, title="Opening hours")
    assert Source.objects.get(pk=source.pk).title == "Opening hours"
    services.source_set_qa(tenant=schema.tenant, kb=kb, pairs=pairs, source=source)  # no title: kept
    assert Source.objects.get(pk=source.pk).title == "Opening hours"


def test_a_refused_qa_edit_leaves_the_source_as_it_was(schema, queued):
    kb = KnowledgeBaseFactory(name="Docs")
    pairs = [{"question": "Open?", "answer": "Nine to five."}]
    source = services.source_set_qa(tenant=schema.tenant, kb=kb, pairs=pairs, title="FAQ")
    with pytest.raises(ValidationFailed) as refused:
        services.source_set_qa(tenant=schema.tenant, kb=kb, pairs=[], source=source, title="Renamed")
    assert _problem(refused) == {"qa_pairs": [("required", "Add at least one question with its answer.")]}
    assert source.title == "FAQ" and Source.objects.get(pk=source.pk).title == "FAQ"


# --- deleting a knowledge base or a document ---------------------------------------------


@pytest.fixture
def changed():
    """The ``knowledge_changed`` signals sent (source ids)."""
    from knowledge.models import knowledge_changed

    sent: list[int] = []

    def receiver(sender, source_id, **kwargs):
        sent.append(source_id)

    knowledge_changed.connect(receiver, dispatch_uid="test-knowledge-changed")
    yield sent
    knowledge_changed.disconnect(dispatch_uid="test-knowledge-changed")


def test_deleting_a_knowledge_base_deletes_its_files_after_the_commit(
    schema, changed, django_capture_on_commit_callbacks
):
    from django.core.files.base import ContentFile

    from knowledge.models import Chunk

    kb = KnowledgeBaseFactory(name="Gone")
    kept = KnowledgeBaseFactory(name="Kept")
    _indexed(kb)
    _indexed(kept)
    upload = SourceFactory(knowledge_base=kb, kind=Source.Kind.FILE, file_name="a.txt")
    upload.file.save("upload", ContentFile(b"Some text"), save=True)
    name, storage = upload.file.name, upload.file.storage
    ids = set(Source.objects.filter(knowledge_base=kb).values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.knowledge_base_delete(kb=kb)
    assert storage.exists(name) and changed == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert not storage.exists(name)
    assert set(changed) == ids
    assert not Source.objects.filter(pk__in=ids).exists() and not Chunk.objects.filter(
        knowledge_base_id=kb.pk
    )
    assert Chunk.objects.filter(knowledge_base=kept).exists()


def test_deleting_a_document_is_refused_while_its_source_is_processed(
    schema, changed, django_capture_on_commit_callbacks
):
    from knowledge.models import Chunk, Document
    from saas.errors import Conflict

    kb = KnowledgeBaseFactory()
    _indexed(kb)
    document = Document.objects.get(knowledge_base=kb)
    Source.objects.filter(pk=document.source_id).update(status=Source.Status.QUEUED)
    with pytest.raises(Conflict):
        services.document_delete(document=document)
    Source.objects.filter(pk=document.source_id).update(status=Source.Status.READY)
    with django_capture_on_commit_callbacks(execute=True):
        services.document_delete(document=document)
    assert not Document.objects.filter(pk=document.pk).exists()
    assert not Chunk.objects.filter(document_id=document.pk).exists()
    assert changed == [document.source_id]
