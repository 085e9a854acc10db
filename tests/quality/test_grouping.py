"""quality.grouping: similar questions grouped with the real built-in model (deterministic
on the CPU), most asked first, bounded by a greedy pass over centroids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from knowledge.embeddings import embedder_for
from quality.grouping import Question, questions_group

T0 = datetime(2030, 1, 1, tzinfo=UTC)
TEXTS = [
    "Do you ship to Mars?",
    "Where is your Paris shop?",
    "Can you deliver to Mars?",
    "What is your refund policy?",
    "do you ship to mars",
    "Do you have a store in Paris?",
    "Do you ship to Mars?",
]


def _questions(texts):
    # newest first, as the selector returns them
    return [
        Question(i + 1, text, T0 - timedelta(hours=i), 100 + i, 1, "no_answer")
        for i, text in enumerate(texts)
    ]


def test_similar_wordings_form_one_group_most_asked_first():
    questions = _questions(TEXTS)
    vectors = dict(
        zip(
            [q.message_id for q in questions],
            embedder_for("local").embed_documents([q.text for q in questions]),
            strict=True,
        )
    )
    groups = questions_group(questions, vectors)
    assert [g.count for g in groups] == [4, 2, 1]
    mars, paris, refund = groups
    assert mars.title == "Do you ship to Mars?"  # the most asked wording (case ignored)
    assert sorted(mars.message_ids) == [1, 3, 5, 7]
    assert [q.text for q in mars.examples] == ["Can you deliver to Mars?"]  # other wordings only
    assert mars.last_asked_at == T0
    assert {q.text for q in paris.questions} == {"Where is your Paris shop?", "Do you have a store in Paris?"}
    assert refund.title == "What is your refund policy?" and refund.reasons == {"no_answer": 1}


def test_without_vectors_only_the_same_wording_groups():
    groups = questions_group(_questions(["Hello?", "hello", "Can you deliver to Mars?"]), {})
    assert [(g.title, g.count) for g in groups] == [("Hello?", 2), ("Can you deliver to Mars?", 1)]


def test_equal_counts_put_the_most_recent_first():
    questions = _questions(["Alpha question", "Beta question"])
    vectors = {1: [1.0, 0.0], 2: [0.0, 1.0]}
    assert [g.title for g in questions_group(questions, vectors)] == ["Alpha question", "Beta question"]
