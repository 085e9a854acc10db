"""Knowledge bases, sources, ingestion and hybrid retrieval (tenant schema, pgvector)."""
