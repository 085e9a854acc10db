"""HTML: decoded as a browser would (BOM, <meta charset>, else UTF-8), cleaned of what a
reader does not see (``html_visibility``), then the main content walked into sections under
its headings (with their anchors), lists, tables as records and code as written. The title
is the <title>, og:title or the first h1."""

from __future__ import annotations

import codecs
import re

from .detection import bom_encoding
from .html_visibility import html_clean
from .hygiene import normalise, one_line, sanitize, verbatim
from .outline import Outline, table_text
from .types import ExtractionError, Section

_BLOCK_TAGS = {
    "address", "article", "blockquote", "body", "center", "dd", "details", "dialog", "dir", "div",
    "dl", "dt", "fieldset", "figcaption", "figure", "footer", "header", "hgroup", "hr", "html", "legend",
    "li", "main", "menu", "p", "section", "summary", "caption", "tr", "td", "th", "tbody", "thead",
    "tfoot", "table", "ul", "ol", "pre", "option",
}  # fmt: skip
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_BR = "\ue000"  # a line break inside inline text, until whitespace is collapsed
_CHARSET = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""", re.I)


def _html_decode(data: bytes) -> str:
    """BOM, then <meta charset> (or the XML declaration), else UTF-8 with replacement."""
    bom = bom_encoding(data)
    if bom:
        return data[bom[1] :].decode(bom[0], errors="replace")
    match = _CHARSET.search(data[:4096]) or _XML_ENCODING.search(data[:512])
    encoding = "utf-8"
    if match:
        try:
            name = codecs.lookup(match.group(1).decode("ascii")).name
        except (LookupError, UnicodeDecodeError):
            name = "utf-8"
        if name in ("latin-1", "iso8859-1", "ascii"):
            name = "cp1252"  # as browsers do
        elif name.startswith(("utf-16", "utf-32")):
            name = "utf-8"  # a page that parses as ASCII-compatible cannot be UTF-16
        encoding = name
    return data.decode(encoding, errors="replace")


def _collapse(text: str) -> str:
    text = re.sub(r"\s+", " ", text).replace(_BR, "\n")
    return normalise(text)


def _inline_text(el, skip: list | tuple = ()) -> str:
    """The text of ``el`` on one line (without the subtrees in ``skip``)."""
    parts: list[str] = []

    def gather(node, depth: int) -> None:
        if not isinstance(node.tag, str) or any(node is s for s in skip):
            return
        if node.text:
            parts.append(node.text)
        for child in node:
            if depth < 200:
                gather(child, depth + 1)
            if child.tail:
                parts.append(child.tail)
            if isinstance(child.tag, str) and (child.tag in _BLOCK_TAGS or child.tag == "br"):
                parts.append(" ")

    gather(el, 0)
    return " ".join("".join(parts).split())


class _HtmlRender(Outline):
    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []

    def flush_inline(self) -> None:
        text = _collapse("".join(self.inline))
        self.inline = []
        self.add(text)

    def flush(self) -> None:
        self.flush_inline()
        super().flush()

    def walk(self, el, depth: int = 0) -> None:
        if not isinstance(el.tag, str):
            return
        tag = el.tag.lower()
        if depth > 300:
            self.inline.append(" " + el.text_content() + " ")
            return
        if tag in _HEADINGS:
            self.heading(_HEADINGS[tag], _inline_text(el), _html_anchor(el))
            return
        if tag == "br":
            self.inline.append(_BR)
            return
        if tag == "pre":
            self.flush_inline()
            self.add(verbatim(el.text_content()))
            return
        if tag in ("ul", "ol"):
            self.flush_inline()
            self.add(_html_list(el, 0))
            return
        if tag == "table" and not _layout_table(el):
            self.flush_inline()
            self.add(_html_table(el))
            return
        if tag == "img":
            return
        block = tag in _BLOCK_TAGS or "-" in tag
        if block:
            self.flush_inline()
        if el.text:
            self.inline.append(el.text)
        for child in el:
            self.walk(child, depth + 1)
            if child.tail:
                self.inline.append(child.tail)
        if block:
            self.flush_inline()


def _html_anchor(heading) -> str:
    anchor = heading.get("id") or ""
    if not anchor:
        for el in heading.iterdescendants():
            if isinstance(el.tag, str) and (el.get("id") or (el.tag == "a" and el.get("name"))):
                anchor = el.get("id") or el.get("name")
                break
    if not anchor:
        parent = heading.getparent()
        if parent is not None and parent.tag == "section" and parent.get("id"):
            first = next((c for c in parent if isinstance(c.tag, str)), None)
            if first is heading:
                anchor = parent.get("id")
    return anchor.strip()[:200]


def _html_list(el, depth: int) -> str:
    lines: list[str] = []
    start = el.get("start") or "1"
    number = int(start) if start.strip().lstrip("-").isdigit() else 1
    ordered = el.tag == "ol"
    for item in el:
        if not isinstance(item.tag, str):
            continue
        if item.tag in ("ul", "ol"):
            nested = _html_list(item, depth + 1) if depth < 10 else ""
            if nested:
                lines.append(nested)
            continue
        inner = list(item.iterdescendants("ul", "ol"))
        nested_lists = [n for n in inner if not any(a in inner for a in n.iterancestors("ul", "ol"))]
        own = _inline_text(item, skip=nested_lists)
        if own:
            prefix = f"{number}. " if ordered else "- "
            lines.append("  " * depth + prefix + own)
            number += 1
        for nested in nested_lists:
            text = _html_list(nested, depth + 1) if depth < 10 else ""
            if text:
                lines.append(text)
    return "\n".join(lines)


def _own_rows(table) -> list:
    rows = []
    for tr in table.iter("tr"):
        if next(tr.iterancestors("table"), None) is table:
            rows.append(tr)
    return rows


def _layout_table(table) -> bool:
    if (table.get("role") or "").lower() in ("presentation", "none"):
        return True
    return bool(table.xpath(".//td//table | .//th//table | .//td//h1 | .//td//h2 | .//td//h3 | .//td//h4"))


def _html_table(table) -> str:
    caption_el = table.find("caption")
    caption = _inline_text(caption_el) if caption_el is not None else ""
    rows: list[list[str]] = []
    header: list[str] | None = None
    for index, tr in enumerate(_own_rows(table)):
        cells = [c for c in tr if isinstance(c.tag, str) and c.tag in ("td", "th")]
        texts = [_inline_text(c) for c in cells]
        if not any(texts):
            continue
        nearest = next(tr.iterancestors("thead", "tbody", "tfoot", "table"), None)
        in_head = nearest is not None and nearest.tag == "thead"
        if header is None and not rows and (in_head or (index == 0 and all(c.tag == "th" for c in cells))):
            header = texts
            continue
        row_header = len(cells) >= 2 and cells[0].tag == "th" and all(c.tag == "td" for c in cells[1:])
        if header is None and row_header:
            rows.append([f"{texts[0]}: " + " | ".join(t for t in texts[1:] if t)])
            continue
        rows.append(texts)
    if header is not None and not rows:
        return table_text([header], None, caption)
    return table_text(rows, header, caption)


def extract_html(data: bytes) -> tuple[str, list[Section]]:
    # lxml loads only when HTML is extracted (the web process only detects types)
    import lxml.html

    text = sanitize(_html_decode(data)).replace(_BR, "")
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
    if not text.strip():
        return "", []
    # huge_tree: nesting deeper than 256 levels would otherwise silently lose the rest of the
    # page (the HTML parser expands no custom entities, and the input is size-capped)
    parser = lxml.html.HTMLParser(
        remove_comments=True, remove_pis=True, no_network=True, recover=True, huge_tree=True
    )
    try:
        root = lxml.html.document_fromstring(text, parser=parser)
    except Exception as error:  # lxml.etree.ParserError: "Document is empty", and friends
        raise ExtractionError("This HTML page could not be read; it may be empty or damaged.") from error
    title_el = root.find(".//title")
    title = one_line(title_el.text_content()) if title_el is not None else ""
    if not title:
        og = root.xpath("//meta[@property='og:title']/@content")
        title = one_line(og[0]) if og else ""
    html_clean(root)
    if not title:
        first = next(iter(root.iter("h1")), None)
        title = _inline_text(first) if first is not None else ""
    render = _HtmlRender()
    for content_root in _content_roots(root):
        render.walk(content_root)
    render.flush()
    return title, render.sections


def _content_roots(root) -> list:
    """<main> (or role=main) when present, else the outermost <article>s, else the body."""
    for query in ("//main | //*[@role='main']", "//article"):
        found = root.xpath(query)
        outermost = [el for el in found if not any(a in found for a in el.iterancestors())]
        if outermost:
            return outermost
    body = root.find("body")
    return [body if body is not None else root]
