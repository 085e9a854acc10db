"""Whether a bot test's answer is good: it contains every required phrase (case and spacing
ignored) and cites the required source. A pure function: tested without a database."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _folded(text: str) -> str:
    return " ".join(text.casefold().split())


def answer_failures(
    *,
    answer: str,
    citations: Sequence[dict[str, Any]],
    phrases: Sequence[str],
    cite_source_id: int | None,
    cite_title: str = "",
) -> list[str]:
    """What the answer lacks, one sentence each (none: it passes)."""
    failures = []
    folded = _folded(answer)
    for phrase in phrases:
        if _folded(phrase) not in folded:
            failures.append(f"Does not contain “{phrase}”.")
    if cite_source_id is not None and all(c.get("source_id") != cite_source_id for c in citations):
        failures.append(f"Does not cite “{cite_title or 'the required source'}”.")
    return failures
