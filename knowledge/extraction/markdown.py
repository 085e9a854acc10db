"""Markdown (front matter, ATX and setext headings, code fences kept as written) and plain
text."""

from __future__ import annotations

import re

from .hygiene import BLANK_LINES, first_line_title, normalise
from .outline import Outline
from .types import Section

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")


def _markdown_heading_text(text: str) -> str:
    text = _MD_LINK.sub(r"\1", text)
    return re.sub(r"(\*\*|__|\*|_|`)(.+?)\1", r"\2", text).strip()


def extract_markdown(text: str) -> tuple[str, list[Section]]:
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)  # comments are invisible when rendered
    title = ""
    front = re.match(r"^---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|$)", text, flags=re.S)
    if front:
        match = re.search(r"(?m)^title:\s*[\"']?(.*?)[\"']?\s*$", front.group(1))
        title = match.group(1) if match else ""
        text = text[front.end() :]
    outline = Outline()
    lines: list[str] = []
    fence: str | None = None
    first_heading: tuple[int, str] | None = None

    def flush_lines() -> None:
        outline.add(_markdown_block("\n".join(lines)))
        lines.clear()

    for line in text.split("\n"):
        if fence is not None:
            lines.append(line)
            if line.strip().startswith(fence) and line.strip().strip(fence[0]) == "":
                fence = None
            continue
        fence_match = _FENCE.match(line)
        if fence_match:
            fence = fence_match.group(1)
            lines.append(line)
            continue
        heading = _ATX.match(line)
        setext = _SETEXT.match(line)
        if heading:
            level, heading_text = len(heading.group(1)), _markdown_heading_text(heading.group(2) or "")
        elif (
            setext
            and lines
            and lines[-1].strip()
            and (len(lines) == 1 or not lines[-2].strip())
            and not _LIST_ITEM.match(lines[-1])
            and not _FENCE.match(lines[-1])
        ):
            level, heading_text = (1 if setext.group(1)[0] == "=" else 2), _markdown_heading_text(lines.pop())
        else:
            lines.append(line)
            continue
        flush_lines()
        if heading_text and (first_heading is None or level < first_heading[0]):
            first_heading = (level, heading_text)
        outline.heading(level, heading_text)
    flush_lines()
    outline.flush()
    return title or (first_heading[1] if first_heading else ""), outline.sections


def _markdown_block(text: str) -> str:
    """Whitespace normalised, except inside code fences (kept as written)."""
    out: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        opening = _FENCE.match(line) if fence is None else None
        if opening:
            fence = opening.group(1)
            out.append(line.strip())
        elif fence is not None:
            out.append(line.rstrip())
            if line.strip().startswith(fence) and line.strip().strip(fence[0]) == "":
                fence = None
        else:
            out.append(normalise(line, keep_indent=True))
    return BLANK_LINES.sub("\n\n", "\n".join(out)).strip("\n")


def extract_text(text: str) -> tuple[str, list[Section]]:
    text = normalise(text)
    lines = [line for line in text.split("\n") if line.strip()]
    title = first_line_title(text, 100) if len(lines) > 1 else ""
    return title, [Section(text, [], None, "")]
