"""The retrieval interface the chat engine calls (fixed here; the knowledge issue fills it).

``retrieve`` runs in the tenant's schema (the caller enters it) and searches only the
knowledge bases named. Until ingestion and hybrid search land, no knowledge base holds any
passage, so it returns nothing and bots say they have no knowledge yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Passage:
    text: str
    title: str
    url: str = ""
    file: str = ""
    page: int | None = None
    source_id: int | None = None
    rank: int = 0  # 1-based, after fusion
    ranks: dict[str, int] = field(default_factory=dict)  # rank in each method ("vector", "text")
    score: float = 0.0  # never shown to visitors

    def citation(self, number: int) -> dict:
        """What a message stores and the widget shows for ``[number]``."""
        return {
            "n": number,
            "title": self.title,
            "url": self.url,
            "file": self.file,
            "page": self.page,
            "source_id": self.source_id,
        }


def retrieve(*, query: str, knowledge_base_ids: list[int] | None = None, limit: int = 5) -> list[Passage]:
    """Passages answering ``query`` from the given knowledge bases (all when ``None``), best
    first. Preconditions: the tenant's schema is active."""
    return []
