"""``extract(data, filename)``: the type by content, then the format's extractor, then the
sections finalised (sanitised, empty ones dropped). A parser's surprise becomes an
``ExtractionError``; it never escapes as a crash."""

from __future__ import annotations

import logging
import re

from .detection import decode, detect_type
from .docx import extract_docx
from .html import extract_html
from .hygiene import one_line, sanitize
from .markdown import extract_markdown, extract_text
from .pdf import extract_pdf
from .tabular import extract_csv, extract_json
from .types import Extracted, ExtractionError, PdfBudget, Section

logger = logging.getLogger(__name__)


def extract(
    data: bytes,
    filename: str = "",
    *,
    max_bytes: int = 20 * 1024 * 1024,
    max_pages: int = 2000,
    pdf_budget: PdfBudget | None = None,
) -> Extracted:
    """Title and sections of ``data`` (see the package docstring); ``pdf_budget`` bounds
    what reading a PDF's pages may take (none: the worker's own time limit does)."""
    data = bytes(data)
    if len(data) > max_bytes:
        raise ExtractionError(f"The file is larger than {_size_label(max_bytes)}.")
    kind = detect_type(data, filename)
    try:
        if kind == "pdf":
            title, sections = extract_pdf(data, max_pages=max_pages, budget=pdf_budget)
        elif kind == "docx":
            title, sections = extract_docx(data, max_bytes=max_bytes)
        else:
            text = decode(data) if kind != "html" else None
            if kind == "html":
                title, sections = extract_html(data)
            elif kind == "markdown":
                title, sections = extract_markdown(sanitize(text or ""))
            elif kind == "text":
                title, sections = extract_text(sanitize(text or ""))
            elif kind == "csv":
                title, sections = extract_csv(sanitize(text or ""), one_line(_stem(filename)))
            else:
                title, sections = extract_json(sanitize(text or ""), one_line(_stem(filename)))
    except ExtractionError:
        raise
    except Exception as error:  # a parser's surprise must not escape as a crash
        logger.warning("extraction of a %s file failed", kind, exc_info=True)
        raise ExtractionError(f"This {kind.upper()} file could not be read; it may be damaged.") from error
    sections = _finalise(sections)
    if not sections:
        hint = " (scanned PDF?)" if kind == "pdf" else ""
        raise ExtractionError(f"No text could be extracted{hint}.")
    return Extracted(title=one_line(title)[:300], sections=sections, kind=kind)


def _finalise(sections: list[Section]) -> list[Section]:
    out = []
    for section in sections:
        text = sanitize(section.text).strip()
        if not re.search(r"\w", text):
            continue
        path = [p for p in (one_line(h)[:200] for h in section.heading_path) if p]
        out.append(Section(text=text, heading_path=path, page=section.page, anchor=section.anchor or ""))
    return out


def _stem(filename: str) -> str:
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[0] if "." in name.strip(".") else name


def _size_label(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):g} MB"
    return f"{n / 1024:g} KB"
