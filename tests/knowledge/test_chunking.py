"""Chunking: by structure first (headings, pages), then by tokens with overlap; stable
hashes so unchanged content is never re-embedded."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from knowledge.chunking import (
    _minilm_tokenizer,
    approximate_tokens,
    chunk_sections,
    default_token_counter,
    embedding_text,
)
from knowledge.extraction import Section, extract


def words(n: int, start: int = 0) -> list[str]:
    return [f"w{i}" for i in range(start, start + n)]


def count_words(text: str) -> int:
    return len(text.split())


def prose(sentences: int, words_each: int = 9, tag: str = "s") -> str:
    return " ".join(
        " ".join(f"{tag}{i}x{j}" for j in range(words_each)).capitalize() + "." for i in range(sentences)
    )


def test_chunks_never_mix_heading_paths_or_pages():
    sections = [
        Section("Intro text.", [], None, ""),
        Section("Ships worldwide.", ["Shipping"], None, "shipping"),
        Section("Three days.", ["Shipping", "Europe"], None, "europe"),
        Section("Free returns.", ["Returns"], None, ""),
        Section("Page one.", [], 1, ""),
        Section("Page two.", [], 2, ""),
    ]
    chunks = chunk_sections(sections, max_tokens=300)
    assert [(c.heading_path, c.page, c.anchor, c.text) for c in chunks] == [
        ([], None, "", "Intro text."),
        (["Shipping"], None, "shipping", "Ships worldwide."),
        (["Shipping", "Europe"], None, "europe", "Three days."),
        (["Returns"], None, "", "Free returns."),
        ([], 1, "", "Page one."),
        ([], 2, "", "Page two."),
    ]


def test_tiny_adjacent_sections_under_one_heading_are_merged_up_to_the_limit():
    rows = [Section(f"Name: item{i}; Price: {i}", ["prices"], None, "") for i in range(10)]
    chunks = chunk_sections(rows, max_tokens=16, count_tokens=count_words)
    assert [c.text.count("Name:") for c in chunks] == [4, 4, 2]
    assert all(c.token_count <= 16 for c in chunks)
    assert "\n\n".join(c.text for c in chunks) == "\n\n".join(r.text for r in rows)  # no overlap between rows


def test_long_section_splits_at_sentences_with_overlap_under_the_limit():
    text = prose(40)  # 40 sentences of 9 words
    chunks = chunk_sections(
        [Section(text, ["Guide"], None, "")], max_tokens=50, overlap_tokens=20, count_tokens=count_words
    )
    sentences = [s + "." for s in text.removesuffix(".").split(". ")]
    assert chunks[0].text == " ".join(sentences[:5])  # 45 words: a sixth sentence would not fit
    assert chunks[1].text == " ".join(sentences[3:8])  # two sentences (18 words) of overlap
    for chunk in chunks:
        assert 0 < chunk.token_count <= 50
        assert chunk.text.endswith(".") and chunk.text[0].isupper()  # cut at sentence ends
    for before, after in itertools.pairwise(chunks):
        assert after.text.startswith(" ".join(before.text.split()[-18:]))
    assert chunks[-1].text.endswith(sentences[-1])


def test_default_counter_keeps_chunks_under_the_limit_without_cutting_words():
    text = prose(40)
    chunks = chunk_sections([Section(text, ["Guide"], None, "")], max_tokens=50, overlap_tokens=20)
    counter = default_token_counter()
    original_words = set(text.split())
    assert len(chunks) > 5
    for chunk in chunks:
        assert 0 < chunk.token_count <= 50
        assert chunk.token_count == counter(chunk.text)
        assert set(chunk.text.split()) <= original_words  # never mid-word
    for before, after in itertools.pairwise(chunks):
        assert after.text.split()[0] in before.text.split()[-20:]  # overlap
    assert " ".join(text.split()[-3:]) in chunks[-1].text


def test_overlap_uses_whole_words_when_sentences_are_too_long():
    text = " ".join(words(100))
    chunks = chunk_sections([Section(text)], max_tokens=30, overlap_tokens=5, count_tokens=count_words)
    assert all(c.token_count <= 30 for c in chunks)
    for before, after in itertools.pairwise(chunks):
        assert after.text.split()[:5] == before.text.split()[-5:]
    assert chunks[-1].text.split()[-1] == "w99"


def test_paragraph_boundaries_are_preferred_and_lines_kept_for_lists():
    paragraphs = [prose(3, tag=f"p{i}") for i in range(4)]  # 27 words each
    chunks = chunk_sections(
        [Section("\n\n".join(paragraphs))], max_tokens=60, overlap_tokens=0, count_tokens=count_words
    )
    assert [c.text for c in chunks] == ["\n\n".join(paragraphs[:2]), "\n\n".join(paragraphs[2:])]
    listing = "\n".join(f"- item {i} detail" for i in range(30))  # no sentence ends
    chunks = chunk_sections([Section(listing)], max_tokens=20, overlap_tokens=0, count_tokens=count_words)
    assert all(line.startswith("- item ") for c in chunks for line in c.text.split("\n"))
    assert [c.token_count for c in chunks] == [20, 20, 20, 20, 20, 20]


def test_a_giant_word_is_the_only_thing_cut():
    blob = "x" * 5000
    chunks = chunk_sections([Section(f"Start {blob} end.")], max_tokens=50, overlap_tokens=0)
    assert all(c.token_count <= 50 for c in chunks)
    assert "".join(c.text.replace("Start ", "").replace(" end.", "") for c in chunks) == blob


def test_positions_are_sequential_and_chunks_never_empty():
    sections = [
        Section("   \n\n  ", ["Empty"], None, ""),
        Section(prose(30), ["A"], None, ""),
        Section("", ["B"], None, ""),
        Section(prose(30), ["C"], 3, ""),
    ]
    chunks = chunk_sections(sections, max_tokens=40)
    assert [c.position for c in chunks] == list(range(len(chunks)))
    assert all(c.text.strip() and c.token_count > 0 for c in chunks)
    assert {tuple(c.heading_path) for c in chunks} == {("A",), ("C",)}


def test_hashes_are_stable_and_change_with_text_or_heading():
    sections = [Section(prose(20), ["Guide", "Setup"], 2, "setup"), Section("Short.", ["Other"])]
    first = chunk_sections(sections, max_tokens=60)
    again = chunk_sections(
        [Section(s.text, list(s.heading_path), s.page, s.anchor) for s in sections], max_tokens=60
    )
    assert [(c.text, c.content_hash) for c in first] == [(c.text, c.content_hash) for c in again]
    assert len({c.content_hash for c in first}) == len(first)
    assert all(len(c.content_hash) == 64 for c in first)

    changed = chunk_sections([Section("Short!", ["Other"])])[0]
    moved = chunk_sections([Section("Short.", ["Elsewhere"])])[0]
    spaced = chunk_sections([Section("  Short.  ", ["Other"], 9, "x")])[0]
    assert changed.content_hash != first[-1].content_hash
    assert moved.content_hash != first[-1].content_hash
    assert spaced.content_hash == first[-1].content_hash  # page and anchor are not embedded


def test_hashes_are_stable_across_processes():
    script = (
        "import json; from knowledge.chunking import chunk_sections; "
        "from knowledge.extraction import Section; "
        "print(json.dumps([c.content_hash for c in chunk_sections("
        "[Section('Alpha beta. ' * 200, ['Guide', 'Setup'], 1, '')], max_tokens=80)]))"
    )
    root = Path(__file__).resolve().parents[2]
    runs = [
        subprocess.run(
            [sys.executable, "-c", script],
            cwd=root,
            env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(root)},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        for seed in ("1", "2")
    ]
    in_process = [
        c.content_hash
        for c in chunk_sections([Section("Alpha beta. " * 200, ["Guide", "Setup"], 1, "")], max_tokens=80)
    ]
    assert json.loads(runs[0]) == json.loads(runs[1]) == in_process


def test_embedding_text_prefixes_the_heading_path_only():
    chunk = chunk_sections([Section("Three days.", ["Shipping", "Europe"])])[0]
    assert chunk.text == "Three days."
    assert embedding_text(chunk) == "Shipping > Europe: Three days."
    bare = chunk_sections([Section("No heading.")])[0]
    assert embedding_text(bare) == "No heading."


def test_default_counter_is_the_minilm_tokenizer_else_approximate():
    if _minilm_tokenizer() is None:
        assert default_token_counter() is approximate_tokens
    else:
        assert default_token_counter()("Shipping to Europe takes 3 days.") == 7
    assert approximate_tokens("one two three four five six seven eight nine ten") == 13
    assert approximate_tokens("日本語のテキスト") == 8


def test_batch_counts_match_single_counts():
    counter = default_token_counter()
    if not hasattr(counter, "many"):
        pytest.skip("the MiniLM tokenizer is not installed")
    texts = [
        "Café naïve ÉCOLE",
        "",
        "日本語のテキスト",
        "ﬁne print",
        "a\nb\n\nc",
        "x" * 300,
        "Hello, world!",
    ] * 50
    assert counter.many(texts) == [counter(text) for text in texts]


def test_a_counter_that_is_not_additive_still_keeps_the_limit():
    def by_characters(text: str) -> int:
        return len(text) // 4 + 1

    text = prose(30) + "\n\n" + " ".join(words(200))
    chunks = chunk_sections([Section(text)], max_tokens=40, overlap_tokens=10, count_tokens=by_characters)
    assert all(c.token_count == by_characters(c.text) <= 40 for c in chunks)
    covered = set(" ".join(c.text for c in chunks).split())
    assert covered == set(text.split())


def test_cjk_text_without_spaces_is_split_at_full_stops():
    text = "这是第一句话。" * 60
    chunks = chunk_sections([Section(text)], max_tokens=40, overlap_tokens=0)
    assert len(chunks) > 1
    assert all(c.token_count <= 40 and c.text.endswith("。") for c in chunks)
    assert "".join(c.text for c in chunks) == text


def test_invalid_limits_and_overlap_cap():
    with pytest.raises(ValueError):
        chunk_sections([Section("x")], max_tokens=0)
    chunks = chunk_sections(
        [Section(" ".join(words(40)))], max_tokens=10, overlap_tokens=50, count_tokens=count_words
    )
    assert all(c.token_count <= 10 for c in chunks)  # overlap capped at half the limit


def test_extracted_document_chunks_end_to_end():
    page = (
        b"<html><head><title>Help</title></head><body><main><h1 id='s'>Shipping</h1>"
        + (b"<p>" + prose(30).encode() + b"</p>")
        + b"<h2 id='e'>Europe</h2><p>Three days.</p></main></body></html>"
    )
    chunks = chunk_sections(extract(page).sections, max_tokens=60)
    assert {(tuple(c.heading_path), c.anchor) for c in chunks} == {
        (("Shipping",), "s"),
        (("Shipping", "Europe"), "e"),
    }
    assert chunks[-1].text == "Three days."
