"""A visitor's attached file read for the bot (docs/files.md): CSV and JSON arrays of
objects become a table (column names, inferred types, rows of cell texts), text, Markdown,
other JSON and PDF become text chunks with their page numbers (PDFs and Markdown through
the knowledge app's extraction). Pure functions: bytes in, a :class:`FileRead` out, or a
:class:`FileUnreadable` whose message the visitor and the agents are shown as is."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from knowledge.extraction import ExtractionError, PdfBudget, extract
from saas.request_body import JsonTooDeep, json_loads_bounded

# Files are read in the upload request: these bound its time (the largest table, 50,000
# rows of 20 numbers, 4.6 MB, about 1.3 s on a busy 2-core machine) and what is stored
# (docs/files.md).
MAX_ROWS = 50_000  # a table with more data rows is refused
MAX_COLUMNS = 100
MAX_CELLS = 1_000_000  # rows x columns
MAX_CELL_CHARS = 1_000
MAX_TEXT_CHARS = 1_000_000  # text kept for the bot; beyond it a file is read in part
MAX_PDF_PAGES = 100
# A PDF's pages are read within this much decoded page content and time (a small PDF whose
# pages draw the same huge compressed stream would otherwise hold the request for minutes).
# A page drawing more than 500 KB of content (about a second to read here) is skipped.
PDF_BUDGET = PdfBudget(page_content_bytes=500_000, content_bytes=4_000_000, seconds=8.0)
MAX_JSON_DEPTH = 32
CHUNK_CHARS = 1_500

TABLE_NAMES = (".csv", ".tsv")
TEXT_NAMES = (".txt", ".md", ".markdown", ".text", ".log")

TYPES = ("integer", "decimal", "date", "boolean", "text")
_INTEGER = re.compile(r"^[-+]?\d{1,18}$")
# Numbers of at most 30 digits on each side of the point: longer ones are text (the query
# step's exact arithmetic stays within Decimal's default precision, 28 digits, and fast).
_DECIMAL = re.compile(r"^[-+]?(\d{1,30}(\.\d{0,30})?|\.\d{1,30})$")
_GROUPED = re.compile(r"^[-+]?\d{1,3}(,\d{3}){1,9}(\.\d{1,30})?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_BOOLEANS = {"true", "false", "yes", "no"}


class FileUnreadable(Exception):
    """Why the bot cannot read a file, in words the visitor can act on."""


@dataclass
class FileRead:
    kind: str  # "table" | "text"
    columns: list[dict[str, str]] = field(default_factory=list)  # [{"name", "type"}]
    rows: list[list[str]] = field(default_factory=list)
    chunks: list[dict[str, Any]] = field(default_factory=list)  # [{"page", "text"}]


def readable(name: str, content_type: str) -> bool:
    """Whether the bot reads a file of this name and (sniffed) type at all; images are not."""
    lowered = name.lower()
    if content_type == "application/pdf":
        return True
    return content_type == "text/plain" and (
        lowered.endswith((*TABLE_NAMES, ".json", *TEXT_NAMES)) or "." not in lowered
    )


def file_read(data: bytes, *, name: str, content_type: str) -> FileRead:
    lowered = name.lower()
    if content_type == "application/pdf":
        return _extracted(data, name)
    text = _decoded(data)
    if lowered.endswith(TABLE_NAMES):
        return table_from_csv(text, tab=lowered.endswith(".tsv"))
    if lowered.endswith(".json"):
        return _from_json(text)
    if lowered.endswith((".md", ".markdown")):
        return _extracted(data, name)
    return FileRead("text", chunks=text_chunks([(None, text)]))


def _decoded(data: bytes) -> str:
    if b"\x00" in data:
        raise FileUnreadable("This file is not text (it holds binary data).")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FileUnreadable(
            f"This file is not UTF-8 text (byte {error.start + 1} is not); save it as UTF-8."
        ) from error


def _extracted(data: bytes, name: str) -> FileRead:
    try:
        found = extract(data, name, max_pages=MAX_PDF_PAGES, pdf_budget=PDF_BUDGET)
    except ExtractionError as error:
        raise FileUnreadable(str(error)) from error
    return FileRead("text", chunks=text_chunks([(s.page, s.text) for s in found.sections]))


def text_chunks(pieces: list[tuple[int | None, str]]) -> list[dict[str, Any]]:
    """Chunks of at most about ``CHUNK_CHARS``, cut at paragraph ends, never across pages;
    ``MAX_TEXT_CHARS`` in all."""
    chunks: list[dict[str, Any]] = []
    left = MAX_TEXT_CHARS + CHUNK_CHARS  # what can be kept, read no further (``_bounded``)
    for page, text in pieces:
        if left <= 0:
            break
        text = text[:left]
        left -= len(text)
        current = ""
        for paragraph in re.split(r"\n\s*\n", text):
            *whole, paragraph = _long_cut(paragraph)
            if whole and current:
                chunks.append({"page": page, "text": current})
                current = ""
            chunks.extend({"page": page, "text": piece} for piece in whole)
            if not paragraph:
                continue
            if current and len(current) + len(paragraph) + 2 > CHUNK_CHARS:
                chunks.append({"page": page, "text": current})
                current = ""
            current = f"{current}\n\n{paragraph}" if current else paragraph
        if current:
            chunks.append({"page": page, "text": current})
    return _bounded(chunks)


def _long_cut(paragraph: str) -> list[str]:
    """A paragraph (stripped) cut at spaces into pieces of at most ``CHUNK_CHARS``, by
    index (no copy of the rest at each cut): the whole pieces, then what is left
    (possibly "")."""
    paragraph = paragraph.strip()
    pieces, start = [], 0
    while len(paragraph) - start > CHUNK_CHARS:
        cut = paragraph.rfind(" ", start, start + CHUNK_CHARS)
        cut = cut if cut > start + CHUNK_CHARS // 2 else start + CHUNK_CHARS
        piece = paragraph[start:cut].strip()
        if piece:
            pieces.append(piece)
        start = cut
    return [*pieces, paragraph[start:].strip()]


def _bounded(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kept, bounded = 0, []
    for chunk in chunks:
        kept += len(chunk["text"])
        if kept > MAX_TEXT_CHARS:
            break
        bounded.append(chunk)
    if not bounded:
        raise FileUnreadable("This file holds no text.")
    return bounded


def table_from_csv(text: str, *, tab: bool = False) -> FileRead:
    sample = text[:8192]
    delimiter = "\t" if tab else ","
    if not tab:
        try:
            delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise FileUnreadable("This CSV file is empty.")
        rows: list[list[str]] = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # blank lines
            if len(row) != len(header):
                raise FileUnreadable(
                    f"Row {reader.line_num} has {len(row)} cells where the header has {len(header)}: "
                    "every row needs the same columns."
                )
            if len(rows) >= _rows_most(len(header)):
                raise FileUnreadable(_too_big(len(header)))
            rows.append([cell.strip()[:MAX_CELL_CHARS] for cell in row])
    except csv.Error as error:
        raise FileUnreadable(f"This CSV file is malformed near line {reader.line_num}: {error}.") from error
    return _table(header, rows)


def _from_json(text: str) -> FileRead:
    try:
        value = json_loads_bounded(text, max_depth=MAX_JSON_DEPTH)
    except JsonTooDeep as error:
        raise FileUnreadable(f"This JSON file nests deeper than {MAX_JSON_DEPTH} levels.") from error
    except ValueError as error:
        where = f" (line {error.lineno})" if isinstance(error, json.JSONDecodeError) else ""
        raise FileUnreadable(f"This file is not valid JSON{where}.") from error
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        if len(value) > MAX_ROWS:
            raise FileUnreadable(_too_big(1))
        # The columns are the keys of every object: refused as soon as there are too many,
        # and the cells counted before a row is built (objects with keys of their own
        # would otherwise make rows x columns grow with the square of the objects).
        names: dict[str, None] = {}
        for item in value:
            names.update(dict.fromkeys(str(key) for key in item))
            if len(names) > MAX_COLUMNS:
                raise FileUnreadable(
                    f"This table has more than {MAX_COLUMNS} columns; at most {MAX_COLUMNS} are read."
                )
        header = list(names)
        if len(value) > _rows_most(len(header)):
            raise FileUnreadable(_too_big(len(header)))
        rows = [[_json_cell(item.get(key)) for key in header] for item in value]
        return _table(header, rows)
    # Other JSON as text, compact (indenting multiplies a file's size by its depth).
    return FileRead("text", chunks=text_chunks([(None, json.dumps(value, ensure_ascii=False))]))


def _rows_most(columns: int) -> int:
    return min(MAX_ROWS, MAX_CELLS // max(columns, 1))


def _too_big(columns: int) -> str:
    return (
        f"This table has more than {_rows_most(columns):,} rows (at most {MAX_CELLS:,} cells are read); "
        "split it into smaller files."
    )


def _json_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value.strip()[:MAX_CELL_CHARS]
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)[:MAX_CELL_CHARS]


def _table(header: list[str], rows: list[list[str]]) -> FileRead:
    if len(header) > MAX_COLUMNS:
        raise FileUnreadable(f"This table has {len(header)} columns; at most {MAX_COLUMNS} are read.")
    if len(rows) > _rows_most(len(header)):
        raise FileUnreadable(_too_big(len(header)))
    if not rows:
        raise FileUnreadable("This table has a header but no rows.")
    names: list[str] = []
    for index, raw in enumerate(header, start=1):
        name = " ".join(raw.split())[:100] or f"column {index}"
        while name.lower() in (n.lower() for n in names):
            name = f"{name} ({index})"
        names.append(name)
    columns = [{"name": name, "type": column_type([row[i] for row in rows])} for i, name in enumerate(names)]
    return FileRead("table", columns=columns, rows=rows)


def column_type(cells: list[str]) -> str:
    """The narrowest of ``TYPES`` every non-empty cell fits (``text`` when none is filled)."""
    filled = [cell for cell in cells if cell != ""]
    if not filled:
        return "text"
    for kind in TYPES[:-1]:
        if all(cell_value(cell, kind) is not None for cell in filled):
            return kind
    return "text"


def cell_value(cell: str, kind: str) -> Any:
    """The cell as its column's type (``Decimal`` for numbers, an ISO date string, a bool,
    the text folded to lower case), or None when it is empty or does not fit."""
    cell = cell.strip()
    if cell == "":
        return None
    if kind in ("integer", "decimal"):
        plain = cell.replace(",", "") if _GROUPED.match(cell) else cell
        if not (_INTEGER if kind == "integer" else _DECIMAL).match(plain):
            return None
        try:
            return Decimal(plain)
        except InvalidOperation:
            return None
    if kind == "date":
        try:
            return date.fromisoformat(cell).isoformat() if _DATE.match(cell) else None
        except ValueError:
            return None
    if kind == "boolean":
        lowered = cell.lower()
        return lowered in ("true", "yes") if lowered in _BOOLEANS else None
    return cell.casefold()
