"""HNSW indexes (cosine) on chunk vectors, one per indexed size: partial expression
indexes, used by queries that cast to the same size and filter on ``embedding_dim``."""

from django.db import migrations

INDEXED_DIMENSIONS = (384, 1536)  # as knowledge.models.INDEXED_DIMENSIONS when written


def _create(dim: int) -> str:
    return (
        f"CREATE INDEX IF NOT EXISTS chunk_embedding_hnsw_{dim} ON knowledge_chunk "
        f"USING hnsw ((embedding::vector({dim})) vector_cosine_ops) WHERE embedding_dim = {dim}"
    )


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0002_sources_documents_chunks")]

    operations = [
        migrations.RunSQL(_create(dim), f"DROP INDEX IF EXISTS chunk_embedding_hnsw_{dim}")
        for dim in INDEXED_DIMENSIONS
    ]
