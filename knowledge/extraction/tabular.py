"""CSV (a record per row, named by the header) and JSON (a record per object, nested keys
dotted). Neither names the document: the caller's title is the file name's stem."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from .detection import csv_dialect
from .types import ExtractionError, Section


def extract_csv(text: str, title: str) -> tuple[str, list[Section]]:
    dialect = csv_dialect(text, partial=False, strict=False)
    if dialect is None:
        raise ExtractionError(
            "This CSV file could not be read: it needs a header row and at least two columns."
        )
    try:
        rows = [
            [" ".join(cell.split()) for cell in row]
            for row in csv.reader(io.StringIO(text), dialect)
            if any(cell.strip() for cell in row)
        ]
    except csv.Error as error:
        raise ExtractionError(f"This CSV file could not be read ({error}).") from error
    if len(rows) < 2:
        raise ExtractionError("This CSV file has no rows under its header.")
    header = [name or f"Column {i + 1}" for i, name in enumerate(rows[0])]
    path = [title] if title else []
    sections = []
    for row in rows[1:]:
        names = header + [f"Column {i + 1}" for i in range(len(header), len(row))]
        record = "; ".join(f"{name}: {value}" for name, value in zip(names, row, strict=False) if value)
        if record:
            sections.append(Section(record, path, None, ""))
    return title, sections


def _scalar(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return " ".join(str(value).split())


def _flatten(value, prefix: str = "", depth: int = 0) -> Iterator[tuple[str, str]]:
    """(dotted key, value) pairs of nested objects; lists of scalars joined with ", "."""
    if depth > 32:
        yield prefix, json.dumps(value, ensure_ascii=False)[:10000]
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}.{key}" if prefix else str(key), depth + 1)
    elif isinstance(value, list):
        if all(not isinstance(item, dict | list) for item in value):
            joined = ", ".join(s for s in (_scalar(item) for item in value) if s)
            if joined:
                yield prefix, joined
        else:
            for index, item in enumerate(value):
                yield from _flatten(item, f"{prefix}.{index}" if prefix else str(index), depth + 1)
    else:
        text = _scalar(value)
        if text:
            yield prefix, text


def extract_json(text: str, title: str) -> tuple[str, list[Section]]:
    try:
        value = json.loads(text)
    except RecursionError as error:
        raise ExtractionError("This JSON file is nested too deeply to be read.") from error
    except json.JSONDecodeError as error:
        raise ExtractionError(
            f"This file is not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})."
        ) from error
    base = [title] if title else []
    sections: list[Section] = []

    def records(items: list, path: list[str]) -> None:
        scalars: list[str] = []
        for item in items:
            if isinstance(item, dict | list):
                record = "; ".join(f"{key}: {text}" if key else text for key, text in _flatten(item))
                if record:
                    sections.append(Section(record, path, None, ""))
            elif _scalar(item):
                scalars.append(_scalar(item))
        if scalars:
            sections.append(Section("\n".join(scalars), path, None, ""))

    if isinstance(value, list):
        records(value, base)
    elif isinstance(value, dict):
        lines: list[str] = []
        for key, item in value.items():
            if isinstance(item, list) and item and all(isinstance(x, dict) for x in item):
                if lines:
                    sections.append(Section("\n".join(lines), base, None, ""))
                    lines = []
                records(item, [*base, str(key)])
            else:
                lines.extend(f"{name}: {text}" for name, text in _flatten(item, str(key)))
        if lines:
            sections.append(Section("\n".join(lines), base, None, ""))
    elif _scalar(value):
        sections.append(Section(_scalar(value), base, None, ""))
    return title, sections
