"""Sections under a heading stack, and tables as readable records: the structure DOCX,
HTML and Markdown share."""

from __future__ import annotations

from itertools import zip_longest

from .hygiene import one_line
from .types import Section


class Outline:
    """Sections under a heading stack: headings 1-6 build the path, text gathers under it."""

    def __init__(self) -> None:
        self.sections: list[Section] = []
        self.stack: list[tuple[int, str]] = []
        self.blocks: list[str] = []
        self.anchor = ""

    def heading(self, level: int, text: str, anchor: str = "") -> None:
        text = one_line(text)
        if not text:
            return
        self.flush()
        self.stack = [entry for entry in self.stack if entry[0] < level] + [(level, text)]
        self.anchor = anchor

    def add(self, block: str) -> None:
        if block.strip():
            self.blocks.append(block)

    def flush(self) -> None:
        if self.blocks:
            text = "\n\n".join(self.blocks)
            self.sections.append(Section(text, [t for _, t in self.stack], None, self.anchor))
        self.blocks = []


def table_text(rows: list[list[str]], header: list[str] | None, caption: str = "") -> str:
    """Rows as readable records: "Header1: value1; Header2: value2", else "a | b"."""
    lines = [caption] if caption else []
    for row in rows:
        if header:
            pairs = [
                f"{name}: {value}" if name else value
                for name, value in zip_longest(header, row, fillvalue="")
                if value
            ]
            line = "; ".join(pairs)
        else:
            line = " | ".join(cell for cell in row if cell)
        if line:
            lines.append(line)
    return "\n".join(lines)


def header_row(rows: list[list[str]]) -> list[str] | None:
    if len(rows) < 2:
        return None
    first = rows[0]
    if len(first) < 2 or not all(first) or len(set(first)) != len(first):
        return None
    if any(cell.endswith(":") for cell in first):
        return None
    return first
