"""Writes for knowledge bases. Preconditions: the tenant's schema is active."""

from .models import KnowledgeBase


def knowledge_base_ensure_default(*, tenant, owner) -> KnowledgeBase:
    """Every workspace starts with one empty knowledge base (workspace initializer)."""
    existing = KnowledgeBase.objects.order_by("id").first()
    return existing or KnowledgeBase.objects.create(name="Main knowledge base")
