"""What extraction produces and how it refuses: a leaf module every other part imports."""

from __future__ import annotations

from dataclasses import dataclass, field

KINDS = ("pdf", "docx", "html", "markdown", "text", "csv", "json")
SUPPORTED = "Upload a PDF, Word (.docx), HTML, Markdown, text, CSV or JSON file."


@dataclass
class Section:
    text: str
    heading_path: list[str] = field(default_factory=list)  # e.g. ["Shipping", "Europe"]
    page: int | None = None  # 1-based, PDFs only
    anchor: str = ""  # URL fragment id of the HTML heading, when it has one


@dataclass
class Extracted:
    title: str
    sections: list[Section]
    kind: str  # one of KINDS


@dataclass(frozen=True)
class PdfBudget:
    """What reading a PDF's pages may take: decoded page content per page and in all, and
    time. Each page's content is measured before its text is extracted (a small PDF whose
    pages draw one huge compressed stream would otherwise take minutes)."""

    page_content_bytes: int
    content_bytes: int
    seconds: float


class ExtractionError(Exception):
    """Why a file cannot be used, in words the person who uploaded it can act on."""
