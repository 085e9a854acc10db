"""The templates keep the design system's rules: no inline styles or scripts (the
Content-Security-Policy), the shared stylesheet and components instead."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = sorted(
    p
    for p in (ROOT / "templates").rglob("*.html")
    # The API docs pages are drf-spectacular's, served with their own nonce'd scripts;
    # emails carry inline styles on purpose (mail clients ignore stylesheets).
    if "drf_spectacular" not in p.parts and "email" not in p.parts
)
STYLE_ATTRIBUTE = re.compile(r"""\sstyle\s*=\s*["'{]""", re.I)
STYLE_ELEMENT = re.compile(r"<style[\s>]", re.I)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
HANDLER_ATTRIBUTE = re.compile(r"""\son[a-z]+\s*=\s*["']""", re.I)


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", TEMPLATES, ids=_relative)
def test_templates_carry_no_inline_style_or_script(path):
    text = path.read_text()
    found = [
        what
        for what, pattern in (
            ("style attribute", STYLE_ATTRIBUTE),
            ("<style> element", STYLE_ELEMENT),
            ("inline <script>", INLINE_SCRIPT),
            ("event handler attribute", HANDLER_ATTRIBUTE),
        )
        if pattern.search(text)
    ]
    assert found == [], f"{_relative(path)}: {', '.join(found)} (use static/ui/app.css and static files)"


def test_the_check_sees_what_it_refuses():
    assert STYLE_ATTRIBUTE.search('<p style="color:red">')
    assert STYLE_ELEMENT.search("<style>p{}</style>")
    assert INLINE_SCRIPT.search("<script>alert(1)</script>")
    assert not INLINE_SCRIPT.search('<script src="/static/x.js" defer></script>')
    assert HANDLER_ATTRIBUTE.search('<button onclick="x()">')
