"""The type of a file by its CONTENT (magic bytes, parsing, sniffing); the extension only
breaks ties between Markdown and plain text (and weak CSV evidence). ``data`` may be just
the first bytes of a file (an upload's first 64 KB). Anything else (images, programs,
archives that are not DOCX) is refused with a reason. Also the text encodings the
extractors decode with."""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import zipfile
import zlib

from .types import SUPPORTED, ExtractionError


def _extension(filename: str) -> str:
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].lower()
    return name.rsplit(".", 1)[-1] if "." in name else ""


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


def bom_encoding(data: bytes) -> tuple[str, int] | None:
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
    bom = bom_encoding(data)
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


def decode(data: bytes, *, partial: bool = False) -> str | None:
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
    entries: list[tuple[str, int, int, int]] = []
    pos = 0
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


def csv_dialect(text: str, *, partial: bool, strict: bool) -> type[csv.Dialect] | None:
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
    text = decode(data[: 256 * 1024], partial=True)
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
    if csv_dialect(text, partial=partial, strict=ext in _MD_EXTENSIONS | _TEXT_EXTENSIONS):
        return "csv"
    if _MD_STRONG.search(text[:65536]) or ext in _MD_EXTENSIONS:
        return "markdown"
    return "text"
