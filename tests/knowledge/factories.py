"""Factories for knowledge (tenant schema: use them inside ``tenant_context``). Sources are
stored as they are (no ingestion is queued); documents and chunks as ingestion would leave
them, without vectors unless given."""

from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from knowledge.models import Chunk, Document, KnowledgeBase, Source


class KnowledgeBaseFactory(DjangoModelFactory):
    class Meta:
        model = KnowledgeBase

    name = factory.Sequence(lambda n: f"Knowledge base {n}")


class SourceFactory(DjangoModelFactory):
    """A text source unless ``kind`` says otherwise."""

    class Meta:
        model = Source

    knowledge_base = factory.SubFactory(KnowledgeBaseFactory)
    kind = Source.Kind.TEXT
    title = factory.Sequence(lambda n: f"Source {n}")
    text = factory.LazyAttribute(lambda o: "Opening hours: 9 to 5." if o.kind == Source.Kind.TEXT else "")


class DocumentFactory(DjangoModelFactory):
    class Meta:
        model = Document

    source = factory.SubFactory(SourceFactory)
    knowledge_base = factory.SelfAttribute("source.knowledge_base")
    key = "text"
    title = factory.SelfAttribute("source.title")
    content_hash = factory.Sequence(lambda n: f"document-{n}")


class ChunkFactory(DjangoModelFactory):
    class Meta:
        model = Chunk

    document = factory.SubFactory(DocumentFactory)
    source = factory.SelfAttribute("document.source")
    knowledge_base = factory.SelfAttribute("document.knowledge_base")
    position = factory.Sequence(lambda n: n)
    text = "Opening hours: 9 to 5."
    token_count = factory.LazyAttribute(lambda o: len(o.text.split()))
    content_hash = factory.Sequence(lambda n: f"chunk-{n}")
