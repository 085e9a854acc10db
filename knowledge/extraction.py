"""Text extraction for knowledge ingestion: the bytes of an uploaded file or a fetched page
become a title and a list of sections (text, heading path, PDF page, HTML anchor).

    detect_type(data, filename)   the type by CONTENT (magic bytes, parsing, sniffing); the
                                  extension only breaks ties between Markdown and plain text
                                  (and weak CSV evidence). ``data`` may be just the first
                                  bytes of a file (an upload's first 64 KB). Anything else
                                  (images, programs, archives that are not DOCX) is refused.
    extract(data, filename)       Extracted(title, sections, kind)

Pure functions: no models, no network, no files. Every failure is an ``ExtractionError``
whose message a person can act on (it is shown to them as is); parser errors never escape.

Kinds: "pdf", "docx", "html", "markdown", "text", "csv", "json".

``Extracted.title`` comes from the content (PDF metadata or first line, DOCX core
properties, Title style or first heading, HTML <title> or first h1, Markdown front matter
or first heading, a short first line of a text file); for CSV and JSON, which name nothing,
it is the file name without its extension. It is "" when nothing names the document:
callers fall back to the file name or the URL.

HTML (``_html_clean``): <main>/role=main, else the outermost <article>s, else the body; always
without scripts, styles, forms, nav, aside, page-level header/footer (an article's own header
stays: it holds its h1), landmark roles (navigation, banner, contentinfo, complementary,
search, menu, dialog) and elements whose class or id says cookie, consent, gdpr, banner,
newsletter, sidebar, menu or breadcrumb (unless they wrap the page's content: a main,
article or h1 inside, or more than half of the page's text). Text hidden from readers is
dropped, being the usual carrier of prompt injections aimed at the bot: the ``hidden``
attribute, aria-hidden=true, inline display:none, visibility:hidden, opacity:0, font-size
of 0 or 1px, zero height/width with overflow hidden, off-screen positioning or clipping,
utility classes (hidden, d-none, sr-only, visually-hidden... unless a responsive class shows
them again), simple top-level <style> rules hiding a class or id, and text whose inline
colour cannot be told from the nearest inline background (contrast below 1.1, transparent
text); with no inline background the page's (from body/html rules or bgcolor) or white is
assumed. Exception: panels a click reveals (the target of an aria-controls with
aria-expanded or role=tab, role=tabpanel, hidden="until-found") are content, FAQ accordions
being typical; aria-hidden and the colour/size tricks still drop them. Stylesheets are not
otherwise applied: a dark page whose background comes from CSS this does not read may lose
inline white text.
"""

from __future__ import annotations

import codecs
import colorsys
import csv
import io
import json
import logging
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import zip_longest

logger = logging.getLogger(__name__)

KINDS = ("pdf", "docx", "html", "markdown", "text", "csv", "json")
MAX_PDF_TEXT_CHARS = 50_000_000  # a PDF whose text expands beyond this is refused (bombs)
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


class ExtractionError(Exception):
    """Why a file cannot be used, in words the person who uploaded it can act on."""


# --------------------------------------------------------------------------- text hygiene

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
# zero-width and bidi controls, soft hyphen, word joiner, BOM (ZWJ/ZWNJ are kept: they
# carry meaning in several scripts)
_INVISIBLE = re.compile("[\u00ad\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"})
_HSPACE = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def _sanitize(text: str) -> str:
    """Newlines unified, NUL/control/invisible characters removed, ligatures split, NFC."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n").replace("\v", "\n")
    text = _INVISIBLE.sub("", _CONTROL.sub("", text))
    return unicodedata.normalize("NFC", text.translate(_LIGATURES))


def _normalise(text: str, *, keep_indent: bool = False) -> str:
    """Spaces collapsed within lines, lines stripped, at most one blank line in a row."""
    lines = []
    for line in text.split("\n"):
        if keep_indent:
            body = line.lstrip()
            indent = line[: len(line) - len(body)].replace("\t", "    ")
            line = indent + _HSPACE.sub(" ", body).rstrip() if body else ""
        else:
            line = _HSPACE.sub(" ", line).strip()
        lines.append(line)
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip("\n")


def _verbatim(text: str) -> str:
    """Code as written: only trailing spaces and surrounding blank lines removed."""
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


def _one_line(text: str) -> str:
    return " ".join(_sanitize(text or "").split())


def _stem(filename: str) -> str:
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[0] if "." in name.strip(".") else name


def _extension(filename: str) -> str:
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].lower()
    return name.rsplit(".", 1)[-1] if "." in name else ""


def _size_label(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):g} MB"
    return f"{n / 1024:g} KB"


# --------------------------------------------------------------------------- detection

_SIGNATURES: list[tuple[bytes, str]] = [
    (b"\x89PNG\r\n\x1a\n", "This is a PNG image, which holds no text to learn from."),
    (b"\xff\xd8\xff", "This is a JPEG image, which holds no text to learn from."),
    (b"GIF87a", "This is a GIF image, which holds no text to learn from."),
    (b"GIF89a", "This is a GIF image, which holds no text to learn from."),
    (b"II*\x00", "This is a TIFF image, which holds no text to learn from."),
    (b"MM\x00*", "This is a TIFF image, which holds no text to learn from."),
    (b"\x00\x00\x01\x00", "This is an icon image, which holds no text to learn from."),
    (b"\x7fELF", "This is a program, not a document."),
    (b"\xca\xfe\xba\xbe", "This is a program, not a document."),
    (b"\xcf\xfa\xed\xfe", "This is a program, not a document."),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "This is an older Office file (.doc, .xls, .ppt) or a password-protected Office file. "
        "Save it as .docx (without a password) or PDF and upload it again.",
    ),
    (b"\x1f\x8b", "This is a compressed (gzip) archive. Upload the documents inside it one by one."),
    (b"Rar!", "This is a RAR archive. Upload the documents inside it one by one."),
    (b"7z\xbc\xaf\x27\x1c", "This is a 7-Zip archive. Upload the documents inside it one by one."),
    (b"BZh", "This is a compressed (bzip2) archive. Upload the documents inside it one by one."),
    (b"\xfd7zXZ\x00", "This is a compressed (xz) archive. Upload the documents inside it one by one."),
    (b"OggS", "This is an audio or video file, which holds no text to learn from."),
    (b"ID3", "This is an audio file, which holds no text to learn from."),
    (b"fLaC", "This is an audio file, which holds no text to learn from."),
    (b"\x1aE\xdf\xa3", "This is a video file, which holds no text to learn from."),
    (b"wOFF", "This is a font file, not a document."),
    (b"wOF2", "This is a font file, not a document."),
    (b"SQLite format 3\x00", "This is a database file, not a document."),
]
_MEDIA_BRANDS = (b"ftyp",)


def _refuse_binary(data: bytes) -> None:
    for signature, message in _SIGNATURES:
        if data.startswith(signature):
            raise ExtractionError(f"{message} {SUPPORTED}")
    if data[:2] == b"MZ" and b"\x00" in data[:256]:
        raise ExtractionError(f"This is a Windows program, not a document. {SUPPORTED}")
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        raise ExtractionError(f"This is a WebP image, which holds no text to learn from. {SUPPORTED}")
    if data[:4] == b"RIFF" or data[4:8] in _MEDIA_BRANDS:
        raise ExtractionError(f"This is an image, audio or video file. {SUPPORTED}")


def _bom_encoding(data: bytes) -> tuple[str, int] | None:
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if data.startswith(bom):
            return encoding, len(bom)
    return None


def _text_encoding(data: bytes) -> tuple[str, int] | None:
    """The encoding of text ``data`` (and how many BOM bytes to skip), None for binary."""
    bom = _bom_encoding(data)
    if bom:
        return bom
    sample = data[:8192]
    if sample.count(0) > 0.1 * len(sample):
        # UTF-16 without a BOM: every other byte is NUL for Latin text
        even, odd = sample[0::2], sample[1::2]
        if odd and odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
            return "utf-16-le", 0
        if even and even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
            return "utf-16-be", 0
        return None
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13, 27))
    if controls > 0.05 * len(sample):
        return None
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=False)  # a cut-off tail is fine
        return "utf-8", 0
    except UnicodeDecodeError:
        pass
    try:
        data.decode("cp1252")
        return "cp1252", 0
    except UnicodeDecodeError:
        return "latin-1", 0


def _decode(data: bytes, *, partial: bool = False) -> str | None:
    found = _text_encoding(data)
    if found is None:
        return None
    encoding, skip = found
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    return decoder.decode(data[skip:], final=not partial)


_OOXML_OTHER = {
    "xl/": "This is an Excel spreadsheet (.xlsx). Export the sheet as CSV and upload that.",
    "ppt/": "This is a PowerPoint presentation (.pptx). Export it as PDF and upload that.",
}


def _zip_local_entries(data: bytes) -> list[tuple[str, int, int, int]]:
    """(name, method, compressed size, data offset) of the local headers in a possibly
    cut-off ZIP (an upload's first bytes hold no central directory)."""
    entries, pos = [], 0
    while len(entries) < 2000:
        i = data.find(b"PK\x03\x04", pos)
        if i < 0 or i + 30 > len(data):
            break
        method = int.from_bytes(data[i + 8 : i + 10], "little")
        size = int.from_bytes(data[i + 18 : i + 22], "little")
        name_len = int.from_bytes(data[i + 26 : i + 28], "little")
        extra_len = int.from_bytes(data[i + 28 : i + 30], "little")
        name = data[i + 30 : i + 30 + name_len].decode("utf-8", "replace")
        entries.append((name, method, size, i + 30 + name_len + extra_len))
        pos = i + 4
    return entries


def _content_types_say_word(raw: bytes) -> bool:
    return b"wordprocessingml.document.main" in raw


def _detect_zip(data: bytes, filename: str) -> str:
    names: list[str]
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            if "word/document.xml" in names:
                return "docx"
            if "[Content_Types].xml" in names:
                info = archive.getinfo("[Content_Types].xml")
                if info.file_size < 1024 * 1024 and _content_types_say_word(archive.read(info)):
                    return "docx"
        complete = True
    except Exception:  # cut off (a head of the file) or damaged
        complete = False
        entries = _zip_local_entries(data)
        names = [name for name, *_ in entries]
        if "word/document.xml" in names:
            return "docx"
        for name, method, size, offset in entries:
            if name != "[Content_Types].xml":
                continue
            raw = data[offset : offset + size] if size else data[offset : offset + 65536]
            try:
                if method == 8:
                    raw = zlib.decompressobj(-15).decompress(raw, 1024 * 1024)
                if _content_types_say_word(raw):
                    return "docx"
            except zlib.error:
                pass
    for prefix, message in _OOXML_OTHER.items():
        if any(name.startswith(prefix) for name in names):
            raise ExtractionError(message)
    if "mimetype" in names and any(n.startswith("META-INF/") for n in names):
        raise ExtractionError(
            "This is an OpenDocument or EPUB file. Save it as .docx or PDF and upload it again."
        )
    if not complete:
        if any(name.startswith("word/") for name in names) or (not names and _extension(filename) == "docx"):
            return "docx"  # the whole file is checked again when it is extracted
        if _extension(filename) == "docx":
            raise ExtractionError("This file is not a valid DOCX (it may be damaged or incomplete).")
    if _extension(filename) == "docx":
        raise ExtractionError("This file is not a valid DOCX: it is a ZIP archive without a Word document.")
    raise ExtractionError(
        f"This is a ZIP archive, not a Word document. Upload the documents inside it one by one. {SUPPORTED}"
    )


_HTML_MARKERS = re.compile(r"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]")
_HTML_TAG = re.compile(r"<(?:p|div|span|h[1-6]|ul|ol|table|a|section|article|main|br|meta|title)\b", re.I)
_MD_STRONG = re.compile(r"(?m)^ {0,3}(?:#{1,6}[ \t]+\S|```|~~~)|^[^\n]+\n {0,3}(?:=+|-+)[ \t]*$")
_MD_EXTENSIONS = {"md", "markdown", "mdown", "mkd", "mkdn", "mdx"}
_TEXT_EXTENSIONS = {"txt", "text", "log", "rst"}


def _looks_html(text: str, ext: str) -> bool:
    start = text.lstrip()[:16384].lower()
    if not start.startswith("<"):
        return False
    if _HTML_MARKERS.search(start):
        return True
    return ext in ("html", "htm", "xhtml") and bool(_HTML_TAG.search(start))


def _looks_json(text: str) -> bool:
    stripped = text.strip()
    if not stripped or stripped[0] not in "{[":
        return False
    try:
        value = json.loads(stripped)
    except RecursionError:
        return True  # deeply nested JSON: extract() explains the problem
    except json.JSONDecodeError as error:
        # a head of a longer file ends mid-document: an error only at its very end
        return error.pos >= len(stripped) - 1 or error.msg.startswith("Unterminated string")
    return isinstance(value, dict | list)


def _csv_dialect(text: str, *, partial: bool, strict: bool) -> type[csv.Dialect] | None:
    """The dialect of CSV ``text`` with at least two columns, or None."""
    lines = text[:65536].split("\n")
    if partial or len(text) > 65536:
        lines = lines[:-1]  # cut off mid-line
    lines = [line for line in lines[:200] if line.strip()]
    if len(lines) < 2:
        return None
    sample = "\n".join(lines)
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
        rows = [row for row in csv.reader(io.StringIO(sample), dialect) if any(c.strip() for c in row)]
    except csv.Error:
        return None
    if len(rows) < 2 or len(rows[0]) < 2:
        return None
    width = len(rows[0])
    if sum(len(row) == width for row in rows) < 0.9 * len(rows):
        return None
    if dialect.delimiter == "|" and all(not row[0].strip() and not row[-1].strip() for row in rows):
        return None  # a Markdown table
    if strict and (len(rows) < 3 or any(len(cell.strip()) > 40 or not cell.strip() for cell in rows[0])):
        return None
    return dialect


def detect_type(data: bytes, filename: str = "") -> str:
    """One of ``KINDS``, judged by content; raises ``ExtractionError`` for anything else.
    ``data`` may be the first bytes only (a cut-off ZIP or JSON is judged by what is there)."""
    data = bytes(data)
    if not data.strip():
        raise ExtractionError("The file is empty.")
    ext = _extension(filename)
    pdf_at = data[:1024].find(b"%PDF-")
    if pdf_at == 0 or (pdf_at > 0 and (not data[:pdf_at].strip() or _text_encoding(data[:pdf_at]) is None)):
        return "pdf"
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return _detect_zip(data, filename)
    _refuse_binary(data)
    text = _decode(data[: 256 * 1024], partial=True)
    if text is None:
        raise ExtractionError(f"This file type is not supported (it looks like a binary file). {SUPPORTED}")
    text = text.lstrip("\ufeff")
    head = text.lstrip()[:4096]
    if head.startswith("{\\rtf"):
        raise ExtractionError("Rich Text (.rtf) files are not supported. Save it as .docx or PDF.")
    if head.lower().startswith(("<svg", "<?xml")) and "<svg" in head.lower() and "<html" not in head.lower():
        raise ExtractionError(f"This is an SVG image, which holds no text to learn from. {SUPPORTED}")
    if _looks_html(text, ext):
        return "html"
    if _looks_json(text):
        return "json"
    partial = len(data) > 256 * 1024
    if _csv_dialect(text, partial=partial, strict=ext in _MD_EXTENSIONS | _TEXT_EXTENSIONS):
        return "csv"
    if _MD_STRONG.search(text[:65536]) or ext in _MD_EXTENSIONS:
        return "markdown"
    return "text"


# --------------------------------------------------------------------------- extract


def extract(
    data: bytes, filename: str = "", *, max_bytes: int = 20 * 1024 * 1024, max_pages: int = 2000
) -> Extracted:
    """Title and sections of ``data`` (see the module docstring)."""
    data = bytes(data)
    if len(data) > max_bytes:
        raise ExtractionError(f"The file is larger than {_size_label(max_bytes)}.")
    kind = detect_type(data, filename)
    try:
        if kind == "pdf":
            title, sections = _extract_pdf(data, max_pages=max_pages)
        elif kind == "docx":
            title, sections = _extract_docx(data, max_bytes=max_bytes)
        else:
            text = _decode(data) if kind != "html" else None
            if kind == "html":
                title, sections = _extract_html(data)
            elif kind == "markdown":
                title, sections = _extract_markdown(_sanitize(text or ""))
            elif kind == "text":
                title, sections = _extract_text(_sanitize(text or ""))
            elif kind == "csv":
                title, sections = _extract_csv(_sanitize(text or ""), _one_line(_stem(filename)))
            else:
                title, sections = _extract_json(_sanitize(text or ""), _one_line(_stem(filename)))
    except ExtractionError:
        raise
    except Exception as error:  # a parser's surprise must not escape as a crash
        logger.warning("extraction of a %s file failed", kind, exc_info=True)
        raise ExtractionError(f"This {kind.upper()} file could not be read; it may be damaged.") from error
    sections = _finalise(sections)
    if not sections:
        hint = " (scanned PDF?)" if kind == "pdf" else ""
        raise ExtractionError(f"No text could be extracted{hint}.")
    return Extracted(title=_one_line(title)[:300], sections=sections, kind=kind)


def _finalise(sections: list[Section]) -> list[Section]:
    out = []
    for section in sections:
        text = _sanitize(section.text).strip()
        if not re.search(r"\w", text):
            continue
        path = [p for p in (_one_line(h)[:200] for h in section.heading_path) if p]
        out.append(Section(text=text, heading_path=path, page=section.page, anchor=section.anchor or ""))
    return out


class _Outline:
    """Sections under a heading stack: headings 1-6 build the path, text gathers under it."""

    def __init__(self) -> None:
        self.sections: list[Section] = []
        self.stack: list[tuple[int, str]] = []
        self.blocks: list[str] = []
        self.anchor = ""

    def heading(self, level: int, text: str, anchor: str = "") -> None:
        text = _one_line(text)
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


def _table_text(rows: list[list[str]], header: list[str] | None, caption: str = "") -> str:
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


def _header_row(rows: list[list[str]]) -> list[str] | None:
    if len(rows) < 2:
        return None
    first = rows[0]
    if len(first) < 2 or not all(first) or len(set(first)) != len(first):
        return None
    if any(cell.endswith(":") for cell in first):
        return None
    return first


# --------------------------------------------------------------------------- PDF

_JUNK_TITLE = re.compile(
    r"^(untitled|document\d*|microsoft (word|powerpoint) - .*|.*\.(docx?|pdf|pptx?|xlsx?|rtf|txt|indd|odt))$",
    re.I,
)
_HYPHEN_BREAK = re.compile(r"(?<=[a-zà-ÿ])-\n(?=[a-zà-ÿ])")


def _extract_pdf(data: bytes, *, max_pages: int) -> tuple[str, list[Section]]:
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
    for index in range(count):
        try:
            raw = reader.pages[index].extract_text() or ""
        except Exception:
            failed += 1
            logger.info("PDF page %d could not be read", index + 1, exc_info=True)
            continue
        total += len(raw)
        if total > MAX_PDF_TEXT_CHARS:
            raise ExtractionError(
                "This PDF holds more text than can be processed. Split it into smaller files."
            )
        text = _normalise(_HYPHEN_BREAK.sub("", _sanitize(raw)))
        if text:
            sections.append(Section(text, list(paths.get(index, [])), index + 1, ""))
    if not sections and failed == count:
        raise ExtractionError("This file is not a valid PDF (its pages could not be read).")
    if not sections:
        raise ExtractionError("No text could be extracted (scanned PDF?). Upload a PDF with selectable text.")
    return _pdf_title(reader) or _first_line_title(sections[0].text), sections


def _pdf_title(reader) -> str:
    try:
        title = _one_line(str((reader.metadata or {}).get("/Title") or ""))
    except Exception:
        return ""
    if not title or len(title) > 300 or _JUNK_TITLE.match(title):
        return ""
    return title


def _first_line_title(text: str, limit: int = 150) -> str:
    first = next((line.strip() for line in text.split("\n") if line.strip()), "")
    return first if len(first) <= limit else ""


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
            last = _one_line(str(getattr(item, "title", "") or ""))[:200]
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


# --------------------------------------------------------------------------- DOCX

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


def _extract_docx(data: bytes, *, max_bytes: int) -> tuple[str, list[Section]]:
    _check_zip_size(data, max_bytes)
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
        title = _one_line(document.core_properties.title or "")
    except Exception:
        title = ""
    first_heading = ""
    styles = _DocxStyles(document)
    outline = _Outline()
    list_open = False
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            list_open = False
            rows = _docx_table_rows(block)
            outline.add(_table_text(rows[1:] if _header_row(rows) else rows, _header_row(rows)))
            continue
        text = _normalise(_sanitize(block.text or ""))
        if not text:
            continue
        style = styles.name(block)
        if style.lower() in ("title", "titel", "titre", "título"):
            title = title or _one_line(text)
            continue
        level = styles.heading_level(block)
        if level:
            list_open = False
            first_heading = first_heading or _one_line(text)
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
            cells.append(_one_line(cell.text))
        if any(cells):
            rows.append(cells)
    return rows


# --------------------------------------------------------------------------- HTML

_DROP_TAGS = {
    "script", "style", "noscript", "template", "svg", "iframe", "frame", "frameset", "form", "nav",
    "aside", "button", "select", "textarea", "input", "object", "embed", "canvas", "video", "audio",
    "map", "head", "link", "meta", "base", "datalist", "slot",
}  # fmt: skip
_DROP_ROLES = {
    "navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar",
    "dialog", "alertdialog",
}  # fmt: skip
_BOILERPLATE = re.compile(r"cookie|consent|gdpr|banner|newsletter|sidebar|menu|breadcrumb", re.I)
_PROTECTED_TAGS = {"html", "body", "main", "article"}
_BLOCK_TAGS = {
    "address", "article", "blockquote", "body", "center", "dd", "details", "dialog", "dir", "div",
    "dl", "dt", "fieldset", "figcaption", "figure", "footer", "header", "hgroup", "hr", "html", "legend",
    "li", "main", "menu", "p", "section", "summary", "caption", "tr", "td", "th", "tbody", "thead",
    "tfoot", "table", "ul", "ol", "pre", "option",
}  # fmt: skip
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_HIDDEN_CLASSES = {
    "hidden", "d-none", "invisible", "sr-only", "visually-hidden", "visuallyhidden", "screen-reader-text",
    "screen-reader-only", "is-hidden", "u-hidden", "hide", "display-none", "element-invisible",
}  # fmt: skip
_RESPONSIVE_SHOW = re.compile(
    r"^(?:(?:sm|md|lg|xl|2xl):(?:block|inline|inline-block|flex|inline-flex|grid|inline-grid|table|contents|flow-root)"
    r"|d-(?:sm|md|lg|xl|xxl)-(?:block|inline|inline-block|flex|inline-flex|grid|table|table-cell|table-row))$"
)
_BR = "\ue000"  # a line break inside inline text, until whitespace is collapsed
_CHARSET = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""", re.I)


def _html_decode(data: bytes) -> str:
    """BOM, then <meta charset> (or the XML declaration), else UTF-8 with replacement."""
    bom = _bom_encoding(data)
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


_NAMED_COLOURS = {
    "white": (255, 255, 255), "black": (0, 0, 0), "red": (255, 0, 0), "green": (0, 128, 0),
    "blue": (0, 0, 255), "yellow": (255, 255, 0), "gray": (128, 128, 128), "grey": (128, 128, 128),
    "silver": (192, 192, 192), "whitesmoke": (245, 245, 245), "snow": (255, 250, 250),
    "ivory": (255, 255, 240), "ghostwhite": (248, 248, 255), "floralwhite": (255, 250, 240),
    "linen": (250, 240, 230), "azure": (240, 255, 255), "mintcream": (245, 255, 250),
    "seashell": (255, 245, 238), "honeydew": (240, 255, 240), "aliceblue": (240, 248, 255),
    "navy": (0, 0, 128), "maroon": (128, 0, 0), "orange": (255, 165, 0), "purple": (128, 0, 128),
    "lime": (0, 255, 0), "aqua": (0, 255, 255), "cyan": (0, 255, 255), "fuchsia": (255, 0, 255),
    "magenta": (255, 0, 255), "teal": (0, 128, 128), "olive": (128, 128, 0),
    "lightgray": (211, 211, 211), "lightgrey": (211, 211, 211), "darkgray": (169, 169, 169),
    "darkgrey": (169, 169, 169), "gainsboro": (220, 220, 220),
}  # fmt: skip
_COLOUR_TOKEN = re.compile(r"#[0-9a-f]{3,8}\b|(?:rgb|hsl)a?\([^)]*\)|\b[a-z]+\b")
_UNKNOWN = "unknown"  # a background we cannot judge (an image, a gradient, a variable)

Colour = tuple[float, float, float, float]


def _parse_colour(value: str) -> Colour | None:
    value = value.strip().lower()
    if value == "transparent":
        return (0.0, 0.0, 0.0, 0.0)
    if value in _NAMED_COLOURS:
        return (*_NAMED_COLOURS[value], 1.0)
    if value.startswith("#"):
        digits = value[1:]
        if len(digits) in (3, 4):
            digits = "".join(c * 2 for c in digits)
        if len(digits) not in (6, 8) or not all(c in "0123456789abcdef" for c in digits):
            return None
        alpha = int(digits[6:8], 16) / 255 if len(digits) == 8 else 1.0
        return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16), alpha)
    match = re.fullmatch(r"(rgb|hsl)a?\(([^)]*)\)", value)
    if not match:
        return None
    parts = [p for p in re.split(r"[\s,/]+", match.group(2).strip()) if p]
    if len(parts) not in (3, 4):
        return None
    try:
        alpha = 1.0
        if len(parts) == 4:
            alpha = float(parts[3][:-1]) / 100 if parts[3].endswith("%") else float(parts[3])
        if match.group(1) == "rgb":
            channels = [float(p[:-1]) * 2.55 if p.endswith("%") else float(p) for p in parts[:3]]
            return (channels[0], channels[1], channels[2], alpha)
        hue = float(parts[0].removesuffix("deg")) / 360 % 1
        saturation, lightness = (float(p.rstrip("%")) / 100 for p in parts[1:3])
        r, g, b = colorsys.hls_to_rgb(hue, lightness, saturation)
        return (r * 255, g * 255, b * 255, alpha)
    except ValueError:
        return None


def _background(value: str) -> Colour | str | None:
    """The colour of a ``background``/``background-color`` value: a colour, ``_UNKNOWN``
    (an image, a gradient, a variable: anything may be behind the text) or None (none)."""
    value = value.strip().lower()
    if "url(" in value or "gradient(" in value or "var(" in value or "image-set(" in value:
        return _UNKNOWN
    for token in _COLOUR_TOKEN.findall(value):
        colour = _parse_colour(token)
        if colour is not None:
            return None if colour[3] == 0 else colour
    return None


def _luminance(colour: Colour) -> float:
    def channel(c: float) -> float:
        c = max(0.0, min(255.0, c)) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in colour[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _unreadable(text: Colour, background: Colour) -> bool:
    """Text that cannot be told from its background (WCAG contrast ratio below 1.1)."""
    if text[3] <= 0.05:
        return True
    a, b = sorted((_luminance(text), _luminance(background)))
    return (b + 0.05) / (a + 0.05) < 1.1


def _declarations(style: str) -> dict[str, str]:
    out = {}
    for part in re.sub(r"/\*.*?\*/", "", style or "", flags=re.S).split(";"):
        if ":" in part:
            name, value = part.split(":", 1)
            value = value.replace("!important", "").strip().lower()
            if name.strip():
                out[name.strip().lower()] = value
    return out


def _length(value: str) -> tuple[float, str] | None:
    match = re.fullmatch(r"(-?\d*\.?\d+)\s*([a-z%]*)", value.strip())
    return (float(match.group(1)), match.group(2)) if match else None


def _hidden_by_style(decls: dict[str, str]) -> bool:
    if decls.get("display") == "none" or decls.get("visibility") in ("hidden", "collapse"):
        return True
    opacity = _length(decls.get("opacity", ""))
    if opacity is not None and (opacity[0] / 100 if opacity[1] == "%" else opacity[0]) <= 0.01:
        return True
    size = _length(decls.get("font-size", ""))
    if size is not None:
        number, unit = size
        limit = {"px": 1, "pt": 1, "": 0, "%": 10, "em": 0.1, "rem": 0.1, "vw": 0.1, "vh": 0.1}.get(unit, 0)
        if number <= limit:
            return True
    overflow = " ".join(decls.get(p, "") for p in ("overflow", "overflow-x", "overflow-y"))
    if "hidden" in overflow or "clip" in overflow:
        for prop in ("height", "max-height", "width", "max-width"):
            length = _length(decls.get(prop, ""))
            if length is not None and (length[0] <= 0 or (length[1] == "px" and length[0] <= 1)):
                return True
    indent = _length(decls.get("text-indent", ""))
    if indent is not None and indent[0] <= -999:
        return True
    if decls.get("position") in ("absolute", "fixed", "relative"):
        for prop in ("left", "top", "right"):
            length = _length(decls.get(prop, ""))
            if length is not None and length[0] <= -999:
                return True
        clip = re.fullmatch(r"rect\((.*)\)", decls.get("clip", "").strip())
        if clip:
            lengths = [_length(v) for v in re.split(r"[\s,]+", clip.group(1).strip()) if v]
            if lengths and all(length is not None and length[0] <= 1 for length in lengths):
                return True
    clip_path = decls.get("clip-path", "").replace(" ", "")
    return clip_path in ("inset(50%)", "inset(100%)", "circle(0)", "circle(0px)")


def _hidden_by_class(el) -> bool:
    tokens = (el.get("class") or "").split()
    if not tokens or not _HIDDEN_CLASSES.intersection(token.lower() for token in tokens):
        return False
    return not any(_RESPONSIVE_SHOW.match(token) for token in tokens)


def _style_sheet_rules(root) -> tuple[set[str], set[str], Colour | str | None]:
    """From <style> blocks (top-level rules only, no media queries): classes and ids that a
    simple rule hides, and the page background set on html/body."""
    css = "\n".join(el.text_content() for el in root.iter("style"))[:500_000]
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    hidden_classes: set[str] = set()
    hidden_ids: set[str] = set()
    page_background: Colour | str | None = None
    depth, start, selector_start = 0, 0, 0
    rules: list[tuple[str, str]] = []
    for index, char in enumerate(css):
        if char == "{":
            if depth == 0:
                selector_start, start = start, index + 1
                rules.append((css[selector_start:index], ""))
            depth += 1
        elif char == "}":
            depth = max(0, depth - 1)
            if depth == 0 and rules:
                rules[-1] = (rules[-1][0], css[start:index])
                start = index + 1
    for selector_text, body in rules:
        selectors = [s.strip().lower() for s in selector_text.strip().split(",")]
        if not body or selector_text.strip().startswith("@"):
            continue
        decls = _declarations(body)
        if _hidden_by_style(decls):
            for selector in selectors:
                match = re.fullmatch(r"[a-z0-9]*([.#])([\w-]+)", selector)
                if match:
                    (hidden_classes if match.group(1) == "." else hidden_ids).add(match.group(2))
        if any(s in ("html", "body", "html body", ":root") for s in selectors):
            for prop in ("background-color", "background"):
                if prop in decls:
                    page_background = _background(decls[prop])
    return hidden_classes, hidden_ids, page_background


@dataclass
class _Paint:
    colour: Colour | None  # the inherited inline text colour, None when no inline colour
    background: Colour | str | None  # the nearest inline background (or _UNKNOWN)
    explicit: bool  # background set inline (or by bgcolor) on the element or an ancestor


def _boilerplate(el, tag: str, page_text: int) -> bool:
    role = (el.get("role") or "").strip().lower()
    if role in _DROP_ROLES:
        return True
    if tag in ("header", "footer"):
        inside = any(a.tag in ("article", "main") or a.get("role") == "main" for a in el.iterancestors())
        return tag == "footer" or not inside  # an article's own header holds its h1
    if tag == "dialog" and el.get("open") is None:
        return True
    names = f"{el.get('class') or ''} {el.get('id') or ''}"
    if tag in _PROTECTED_TAGS or role == "main" or not _BOILERPLATE.search(names):
        return False
    # never the wrapper of the page's content ("page-with-sidebar", "has-cookie-banner")
    if el.xpath("boolean(.//main | .//article | .//*[@role='main'] | .//h1)"):
        return False
    return len(" ".join(el.text_content().split())) <= page_text / 2


def _html_clean(root) -> None:
    """Remove boilerplate and text hidden from readers, in place."""
    hidden_classes, hidden_ids, page_background = _style_sheet_rules(root)
    for el in list(root.iter("script", "style", "noscript", "template")):
        el.drop_tree()
    page_text = len(" ".join(root.text_content().split()))
    revealable = {
        target
        for el in root.xpath("//*[@aria-controls]")
        if el.get("aria-expanded") is not None or el.get("role") == "tab"
        for target in (el.get("aria-controls") or "").split()
    }
    body = root.find("body")
    if body is not None and body.get("bgcolor"):
        page_background = _background(body.get("bgcolor"))
    start = _Paint(None, page_background if page_background is not None else (255, 255, 255, 1.0), False)
    stack = [(child, start) for child in reversed(list(root))]
    while stack:
        el, paint = stack.pop()
        tag = el.tag.lower() if isinstance(el.tag, str) else ""
        if not tag:
            el.drop_tree()  # comments and processing instructions
            continue
        if tag in _DROP_TAGS or _boilerplate(el, tag, page_text):
            el.drop_tree()
            continue
        decls = _declarations(el.get("style") or "")
        page = tag in ("html", "body")
        # hidden until a click (tabs, accordions, hidden="until-found") is readable content
        findable = (
            el.get("id") in revealable or el.get("role") == "tabpanel" or el.get("hidden") == "until-found"
        )
        toggled = (
            el.get("hidden") is not None
            or decls.get("display") == "none"
            or _hidden_by_class(el)
            or any(name in hidden_classes for name in (el.get("class") or "").split())
            or (el.get("id") or "") in hidden_ids
        )
        hidden = (
            (toggled and not findable)
            or (el.get("aria-hidden") or "").strip().lower() == "true"
            or _hidden_by_style({k: v for k, v in decls.items() if k != "display"})
        )
        if hidden and not page:
            el.drop_tree()
            continue
        paint, painted = _repaint(el, decls, paint)
        if painted and not page and paint.colour is not None and isinstance(paint.background, tuple):
            assumed = not paint.explicit and (tag in _PROTECTED_TAGS or el.get("role") == "main")
            if not assumed and _unreadable(paint.colour, paint.background):
                el.drop_tree()
                continue
        stack.extend((child, paint) for child in reversed(list(el)))


def _repaint(el, decls: dict[str, str], paint: _Paint) -> tuple[_Paint, bool]:
    """The paint inside ``el`` and whether ``el`` sets a colour or background itself."""
    colour, background, explicit, painted = paint.colour, paint.background, paint.explicit, False
    for value in (decls.get("color"), el.get("color") if el.tag == "font" else None):
        parsed = _parse_colour(value) if value else None
        if parsed is not None:
            colour, painted = parsed, True
    for value in (el.get("bgcolor"), decls.get("background"), decls.get("background-color")):
        if value:
            found = _background(value)
            if found is not None:
                background, explicit, painted = found, True, True
    return _Paint(colour, background, explicit), painted


def _collapse(text: str) -> str:
    text = re.sub(r"\s+", " ", text).replace(_BR, "\n")
    return _normalise(text)


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


class _HtmlRender(_Outline):
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
            self.add(_verbatim(el.text_content()))
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
    rows, header = [], None
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
        return _table_text([header], None, caption)
    return _table_text(rows, header, caption)


def _extract_html(data: bytes) -> tuple[str, list[Section]]:
    import lxml.html

    text = _sanitize(_html_decode(data)).replace(_BR, "")
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
    title = _one_line(title_el.text_content()) if title_el is not None else ""
    if not title:
        og = root.xpath("//meta[@property='og:title']/@content")
        title = _one_line(og[0]) if og else ""
    _html_clean(root)
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


# --------------------------------------------------------------------------- Markdown, text

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")


def _markdown_heading_text(text: str) -> str:
    text = _MD_LINK.sub(r"\1", text)
    return re.sub(r"(\*\*|__|\*|_|`)(.+?)\1", r"\2", text).strip()


def _extract_markdown(text: str) -> tuple[str, list[Section]]:
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)  # comments are invisible when rendered
    title = ""
    front = re.match(r"^---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|$)", text, flags=re.S)
    if front:
        match = re.search(r"(?m)^title:\s*[\"']?(.*?)[\"']?\s*$", front.group(1))
        title = match.group(1) if match else ""
        text = text[front.end() :]
    outline = _Outline()
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
            out.append(_normalise(line, keep_indent=True))
    return _BLANK_LINES.sub("\n\n", "\n".join(out)).strip("\n")


def _extract_text(text: str) -> tuple[str, list[Section]]:
    text = _normalise(text)
    lines = [line for line in text.split("\n") if line.strip()]
    title = _first_line_title(text, 100) if len(lines) > 1 else ""
    return title, [Section(text, [], None, "")]


# --------------------------------------------------------------------------- CSV, JSON


def _extract_csv(text: str, title: str) -> tuple[str, list[Section]]:
    dialect = _csv_dialect(text, partial=False, strict=False)
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


def _extract_json(text: str, title: str) -> tuple[str, list[Section]]:
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
