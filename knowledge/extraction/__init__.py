"""Text extraction for knowledge ingestion: the bytes of an uploaded file or a fetched page
become a title and a list of sections (text, heading path, PDF page, HTML anchor).

    detect_type(data, filename)   the type by CONTENT (``detection``); the extension only
                                  breaks ties. ``data`` may be just the first bytes of a
                                  file (an upload's first 64 KB). Anything else (images,
                                  programs, archives that are not DOCX) is refused.
    extract(data, filename)       Extracted(title, sections, kind) (``dispatch``)

Pure functions: no models, no network, no files. Every failure is an ``ExtractionError``
whose message a person can act on (it is shown to them as is); parser errors never escape.

Kinds: "pdf", "docx", "html", "markdown", "text", "csv", "json", one module each (``pdf``,
``docx``, ``html`` with ``html_visibility``, ``markdown`` for Markdown and text,
``tabular`` for CSV and JSON), which ``dispatch`` calls. ``types`` (what extraction returns
and raises), ``hygiene`` and ``outline`` are the leaves they share, so nothing inside the
package imports in a circle.

``Extracted.title`` comes from the content (PDF metadata or first line, DOCX core
properties, Title style or first heading, HTML <title> or first h1, Markdown front matter
or first heading, a short first line of a text file); for CSV and JSON, which name nothing,
it is the file name without its extension. It is "" when nothing names the document:
callers fall back to the file name or the URL.
"""

from .detection import detect_type
from .dispatch import extract
from .pdf import MAX_PDF_TEXT_CHARS
from .types import KINDS, SUPPORTED, Extracted, ExtractionError, PdfBudget, Section

__all__ = [
    "KINDS",
    "MAX_PDF_TEXT_CHARS",
    "SUPPORTED",
    "Extracted",
    "ExtractionError",
    "PdfBudget",
    "Section",
    "detect_type",
    "extract",
]
