"""Text hygiene shared by every format: newlines unified, control and invisible characters
removed, ligatures split, whitespace collapsed."""

from __future__ import annotations

import re
import unicodedata

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
# zero-width and bidi controls, soft hyphen, word joiner, BOM (ZWJ/ZWNJ are kept: they
# carry meaning in several scripts)
_INVISIBLE = re.compile("[\u00ad\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"})
_HSPACE = re.compile(r"[^\S\n]+")
BLANK_LINES = re.compile(r"\n{3,}")


def sanitize(text: str) -> str:
    """Newlines unified, NUL/control/invisible characters removed, ligatures split, NFC."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n").replace("\v", "\n")
    text = _INVISIBLE.sub("", _CONTROL.sub("", text))
    return unicodedata.normalize("NFC", text.translate(_LIGATURES))


def normalise(text: str, *, keep_indent: bool = False) -> str:
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
    return BLANK_LINES.sub("\n\n", "\n".join(lines)).strip("\n")


def verbatim(text: str) -> str:
    """Code as written: only trailing spaces and surrounding blank lines removed."""
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


def one_line(text: str) -> str:
    return " ".join(sanitize(text or "").split())


def first_line_title(text: str, limit: int = 150) -> str:
    first = next((line.strip() for line in text.split("\n") if line.strip()), "")
    return first if len(first) <= limit else ""
