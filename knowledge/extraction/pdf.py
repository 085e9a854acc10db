"""PDF: the text of each page (its number kept), the heading path from the bookmarks, the
title from the metadata or the first line. Encrypted, damaged, oversized and text-bomb
PDFs are refused."""

from __future__ import annotations

import io
import logging
import re
import time
from typing import Any

from .hygiene import first_line_title, normalise, one_line, sanitize
from .types import ExtractionError, PdfBudget, Section

logger = logging.getLogger(__name__)

MAX_PDF_TEXT_CHARS = 50_000_000  # a PDF whose text expands beyond this is refused (bombs)
_JUNK_TITLE = re.compile(
    r"^(untitled|document\d*|microsoft (word|powerpoint) - .*|.*\.(docx?|pdf|pptx?|xlsx?|rtf|txt|indd|odt))$",
    re.I,
)
_HYPHEN_BREAK = re.compile(r"(?<=[a-zà-ÿ])-\n(?=[a-zà-ÿ])")


def extract_pdf(data: bytes, *, max_pages: int, budget: PdfBudget | None = None) -> tuple[str, list[Section]]:
    # pypdf loads only when a PDF is extracted (the web process only detects types)
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        encrypted = reader.is_encrypted
    except Exception as error:
        raise ExtractionError("This file is not a valid PDF (it may be damaged or incomplete).") from error
    if encrypted:
        try:
            opened = bool(reader.decrypt(""))  # only restrictions, no password to open
        except Exception:
            opened = False
        if not opened:
            raise ExtractionError(
                "This PDF is encrypted (password-protected). Remove the password and upload it again."
            )
    try:
        count = len(reader.pages)
    except Exception as error:
        raise ExtractionError("This file is not a valid PDF (it may be damaged or incomplete).") from error
    if count == 0:
        raise ExtractionError("This PDF has no pages.")
    if count > max_pages:
        raise ExtractionError(
            f"This PDF has {count} pages; the limit is {max_pages}. Split it into smaller files."
        )
    paths = _pdf_outline_paths(reader, count)
    sections: list[Section] = []
    failed, total = 0, 0
    spent = _Spent(budget)
    for index in range(count):
        try:
            page = reader.pages[index]
            if not spent.page(page):  # a page that draws too much to read in time: skipped
                spent.skipped += 1
                continue
            raw = page.extract_text() or ""
        except ExtractionError:
            raise
        except Exception:
            failed += 1
            logger.info("PDF page %d could not be read", index + 1, exc_info=True)
            continue
        total += len(raw)
        if total > MAX_PDF_TEXT_CHARS:
            raise ExtractionError(
                "This PDF holds more text than can be processed. Split it into smaller files."
            )
        text = normalise(_HYPHEN_BREAK.sub("", sanitize(raw)))
        if text:
            sections.append(Section(text, list(paths.get(index, [])), index + 1, ""))
    if not sections and spent.skipped:
        raise ExtractionError(_Spent.TOO_MUCH)
    if not sections and failed == count:
        raise ExtractionError("This file is not a valid PDF (its pages could not be read).")
    if not sections:
        raise ExtractionError("No text could be extracted (scanned PDF?). Upload a PDF with selectable text.")
    return _pdf_title(reader) or first_line_title(sections[0].text), sections


class _Spent:
    """What reading the pages has taken, against a :class:`PdfBudget` (none: no bound)."""

    TOO_MUCH = "This PDF's pages take too long to read. Save it again as a simpler PDF or split it."

    def __init__(self, budget: PdfBudget | None) -> None:
        self.budget, self.content, self.skipped = budget, 0, 0
        self.started = time.monotonic()

    def page(self, page: Any) -> bool:
        """Whether to read ``page``: False for one whose content alone is over the budget
        (skipped); raises :class:`ExtractionError` once the whole budget is spent."""
        budget = self.budget
        if budget is None:
            return True
        if time.monotonic() - self.started > budget.seconds:
            raise ExtractionError(self.TOO_MUCH)
        contents = page.get_contents()
        size = len(contents.get_data()) if contents is not None else 0
        if size > budget.page_content_bytes:
            return False
        self.content += size
        if self.content > budget.content_bytes:
            raise ExtractionError(self.TOO_MUCH)
        return True


def _pdf_title(reader) -> str:
    try:
        title = one_line(str((reader.metadata or {}).get("/Title") or ""))
    except Exception:
        return ""
    if not title or len(title) > 300 or _JUNK_TITLE.match(title):
        return ""
    return title


def _pdf_outline_paths(reader, count: int) -> dict[int, list[str]]:
    """Page index -> heading path from the PDF's bookmarks (the last one starting on or
    before the page). Empty when the PDF has no usable outline."""
    entries: list[tuple[int, int, list[str]]] = []

    def walk(items, parents: list[str], depth: int) -> None:
        last: str | None = None
        for item in items:
            if len(entries) > 5000:
                return
            if isinstance(item, list):
                if last is not None and depth < 6:
                    walk(item, [*parents, last], depth + 1)
                continue
            last = one_line(str(getattr(item, "title", "") or ""))[:200]
            if not last:
                last = None
                continue
            try:
                page = reader.get_destination_page_number(item)
            except Exception:
                page = None
            if page is not None and 0 <= page < count:
                entries.append((page, len(entries), [*parents, last]))

    try:
        walk(reader.outline, [], 0)
    except Exception:
        logger.info("PDF outline could not be read", exc_info=True)
        return {}
    entries.sort(key=lambda entry: (entry[0], entry[1]))
    paths: dict[int, list[str]] = {}
    current: list[str] = []
    position = 0
    for page in range(count):
        while position < len(entries) and entries[position][0] <= page:
            current = entries[position][2]
            position += 1
        if current:
            paths[page] = current
    return paths
