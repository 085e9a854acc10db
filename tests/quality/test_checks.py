"""quality.checks: what a bot test's answer lacks."""

from quality.checks import answer_failures


def test_phrases_are_found_whatever_the_case_and_spacing():
    answer = "Standard delivery takes 3 to  5 business days [1]."
    assert (
        answer_failures(answer=answer, citations=[], phrases=["3 TO 5 business"], cite_source_id=None) == []
    )
    assert answer_failures(answer=answer, citations=[], phrases=["free", "days"], cite_source_id=None) == [
        "Does not contain “free”."
    ]


def test_the_required_source_must_be_cited():
    cited = [{"n": 1, "source_id": 7, "title": "FAQ"}]
    assert answer_failures(answer="x", citations=cited, phrases=[], cite_source_id=7) == []
    assert answer_failures(
        answer="x", citations=cited, phrases=[], cite_source_id=8, cite_title="Prices"
    ) == ["Does not cite “Prices”."]
