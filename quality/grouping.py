"""Similar questions grouped, in bounded time: greedy clustering by cosine similarity.

Each question (newest first) joins the group whose centroid it is most similar to, when
that similarity reaches ``THRESHOLD``, or starts a group of its own. One matrix-vector
product per question against at most as many centroids as there are groups: O(n·g·d) for
n questions (capped by the caller), g groups and d dimensions, no pairwise matrix. Vectors
are unit length (the embedders' promise), so a dot product is the cosine. A pure function
of its input: tested without a database.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

# all-MiniLM-L6-v2: rephrasings of one question score about 0.7 to 0.95, different
# questions on one topic ("shipping to Germany" / "shipping costs") about 0.5 to 0.65.
THRESHOLD = 0.7
EXAMPLES = 3


@dataclass(frozen=True)
class Question:
    message_id: int
    text: str
    asked_at: datetime
    conversation_id: int
    widget_id: int
    reason: str  # "no_answer", "handoff" or "thumbs_down"


@dataclass
class Group:
    questions: list[Question] = field(default_factory=list)
    title: str = ""  # the question that stands for the group (the most asked wording)

    @property
    def count(self) -> int:
        return len(self.questions)

    @property
    def message_ids(self) -> list[int]:
        return [q.message_id for q in self.questions]

    @property
    def examples(self) -> list[Question]:
        """Up to ``EXAMPLES`` questions of the group in other wordings than the title's, newest first."""
        seen, shown = {_normal(self.title)}, []
        for question in self.questions:
            key = _normal(question.text)
            if key not in seen:
                seen.add(key)
                shown.append(question)
            if len(shown) == EXAMPLES:
                break
        return shown

    @property
    def last_asked_at(self) -> datetime:
        return max(q.asked_at for q in self.questions)

    @property
    def reasons(self) -> dict[str, int]:
        return dict(Counter(q.reason for q in self.questions))


def _normal(text: str) -> str:
    return " ".join(text.lower().split()).rstrip("?!. ")


def questions_group(
    questions: Sequence[Question], vectors: Mapping[int, Sequence[float]], *, threshold: float = THRESHOLD
) -> list[Group]:
    """``questions`` (newest first) in groups of similar ones, the most asked first (then the
    most recently asked). A question without a vector forms a group with the questions of
    the same wording only."""
    groups: list[Group] = []
    sums: list[np.ndarray] = []  # the sum of each group's vectors (its centroid's direction)
    by_wording: dict[str, Group] = {}
    for question in questions:
        vector = vectors.get(question.message_id)
        if vector is None:
            group = by_wording.get(_normal(question.text))
            if group is None:
                group = by_wording[_normal(question.text)] = Group()
                groups.append(group)
                sums.append(np.zeros(0, dtype=np.float32))
            group.questions.append(question)
            continue
        v = np.asarray(vector, dtype=np.float32)
        best, best_score = -1, threshold
        for i, total in enumerate(sums):
            if total.shape != v.shape:
                continue
            norm = float(np.linalg.norm(total))
            score = float(total @ v) / norm if norm else 0.0
            if score >= best_score:
                best, best_score = i, score
        if best < 0:
            groups.append(Group())
            sums.append(v.copy())
            best = len(groups) - 1
        else:
            sums[best] = sums[best] + v
        groups[best].questions.append(question)
    for group in groups:
        wordings = Counter(_normal(q.text) for q in group.questions)
        top = wordings.most_common(1)[0][0]
        # Of that wording, the newest written as a question ("Do you…?") rather than "do you…".
        group.title = max(
            (q.text for q in group.questions if _normal(q.text) == top),
            key=lambda text: (text[:1].isupper(), text.rstrip().endswith("?")),
        )
    groups.sort(key=lambda g: (-g.count, -g.last_asked_at.timestamp()))
    return groups
