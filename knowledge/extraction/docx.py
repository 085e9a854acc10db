"""DOCX: paragraphs under their headings (heading styles in several languages, or outline
levels), lists, tables as records; the title from the core properties, the Title style or
the first heading. Zip bombs are refused before python-docx opens the file."""

from __future__ import annotations

import io
import logging
import re
import zipfile

from .hygiene import normalise, one_line, sanitize
from .outline import Outline, header_row, table_text
from .types import ExtractionError, Section

logger = logging.getLogger(__name__)

_HEADING_STYLE = re.compile(r"^(?:heading|überschrift|titre|título|titolo|kop)\s*(\d)$", re.I)
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _outline_level(element) -> int:
    """Heading level 1-6 from a w:pPr/w:outlineLvl under ``element``, else 0."""
    ppr = element.find(f"{_W}pPr")
    node = ppr.find(f"{_W}outlineLvl") if ppr is not None else None
    if node is None:
        return 0
    try:
        value = int(node.get(f"{_W}val", "9"))
    except ValueError:
        return 0
    return min(value + 1, 6) if 0 <= value < 9 else 0


class _DocxStyles:
    """Paragraph styles by id, resolved once (python-docx's ``paragraph.style`` scans every
    style for the default on each call)."""

    def __init__(self, document) -> None:
        # python-docx loads only when a DOCX is extracted (the web process only detects types)
        from docx.enum.style import WD_STYLE_TYPE

        self.by_id: dict[str, object] = {}
        self.default = None
        self.levels: dict[str, int] = {}
        try:
            for style in document.styles:
                if style.style_id and style.type == WD_STYLE_TYPE.PARAGRAPH:
                    self.by_id[style.style_id] = style
            self.default = document.styles.default(WD_STYLE_TYPE.PARAGRAPH)
        except Exception:
            logger.info("DOCX styles could not be read", exc_info=True)

    def style(self, paragraph):
        style_id = paragraph._p.style
        return self.by_id.get(style_id) if style_id else self.default

    def name(self, paragraph) -> str:
        style = self.style(paragraph)
        return (getattr(style, "name", "") or "") if style is not None else ""

    def heading_level(self, paragraph) -> int:
        level = _outline_level(paragraph._p)
        if level:
            return level
        style = self.style(paragraph)
        if style is None:
            return 0
        key = style.style_id or ""
        if key not in self.levels:
            self.levels[key] = _style_heading_level(style)
        return self.levels[key]


def _style_heading_level(style) -> int:
    try:
        for _ in range(6):
            if style is None:
                break
            for name in (style.name or "", style.style_id or ""):
                match = _HEADING_STYLE.match(name.strip())
                if match and 1 <= int(match.group(1)) <= 9:
                    return min(int(match.group(1)), 6)
            level = _outline_level(style.element)
            if level:
                return level
            style = style.base_style
    except Exception:
        logger.info("DOCX style could not be read", exc_info=True)
    return 0


def _check_zip_size(data: bytes, max_bytes: int) -> None:
    """Refuse DOCX files that would expand into far more data than they hold (zip bombs)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except Exception as error:
        raise ExtractionError("This file is not a valid DOCX (it may be damaged or incomplete).") from error
    xml = sum(info.file_size for info in infos if info.filename.lower().endswith((".xml", ".rels")))
    total = sum(info.file_size for info in infos)
    if xml > 5 * max_bytes or total > 20 * max_bytes:
        raise ExtractionError("This DOCX expands to far more data than it holds; it cannot be processed.")


def extract_docx(data: bytes, *, max_bytes: int) -> tuple[str, list[Section]]:
    _check_zip_size(data, max_bytes)
    # python-docx loads only when a DOCX is extracted (the web process only detects types)
    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as error:
        raise ExtractionError(
            "This file is not a valid DOCX (it may be damaged, or be a macro-enabled or older Word file). "
            "Save it as .docx or PDF and upload it again."
        ) from error
    try:
        title = one_line(document.core_properties.title or "")
    except Exception:
        title = ""
    first_heading = ""
    styles = _DocxStyles(document)
    outline = Outline()
    list_open = False
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            list_open = False
            rows = _docx_table_rows(block)
            outline.add(table_text(rows[1:] if header_row(rows) else rows, header_row(rows)))
            continue
        text = normalise(sanitize(block.text or ""))
        if not text:
            continue
        style = styles.name(block)
        if style.lower() in ("title", "titel", "titre", "título"):
            title = title or one_line(text)
            continue
        level = styles.heading_level(block)
        if level:
            list_open = False
            first_heading = first_heading or one_line(text)
            outline.heading(level, text)
            continue
        ppr = block._p.pPr
        is_item = style.lower().startswith("list") or (ppr is not None and ppr.numPr is not None)
        if is_item:
            item = "- " + text.replace("\n", " ")
            if list_open and outline.blocks:
                outline.blocks[-1] += "\n" + item
            else:
                outline.add(item)
            list_open = True
        else:
            list_open = False
            outline.add(text)
    outline.flush()
    return title or first_heading, outline.sections


def _docx_table_rows(table) -> list[list[str]]:
    rows = []
    for row in table.rows:
        cells: list[str] = []
        seen: list = []
        for cell in row.cells:
            if any(cell._tc is element for element in seen):  # a merged cell repeats
                continue
            seen.append(cell._tc)
            cells.append(one_line(cell.text))
        if any(cells):
            rows.append(cells)
    return rows
