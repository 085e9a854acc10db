"""chat.markdown: Markdown from the model and agents rendered with markdown-it (HTML and
images off), then cleaned by nh3 with an explicit allow-list."""

from __future__ import annotations

import pytest

from chat.markdown import render_markdown, sanitize
from tests.chat.inert_html import assert_inert


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "![x](https://evil.test/x.png)",
        "![x](javascript:alert(1))",
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "[x](vbscript:msgbox)",
        '<a href="javascript:alert(1)" onclick="alert(1)">x</a>',
        "<svg onload=alert(1)><circle/></svg>",
        "<iframe src=https://evil.test></iframe>",
        '<div style="background:url(javascript:alert(1))">x</div>',
        "<details open ontoggle=alert(1)>",
        "```html\n<script>alert(1)</script>\n```",
    ],
)
def test_markdown_never_produces_active_content(source):
    html = str(render_markdown(source))
    assert "<script" not in html and "<img" not in html and "<svg" not in html and "<iframe" not in html
    assert_inert(html)


def test_markdown_keeps_formatting_and_safe_links():
    source = "# Title\n\n**b** _i_ `c`\n\n- one\n1. two\n\n> quote\n\n"
    html = str(render_markdown(source + "[site](https://example.com) [mail](mailto:a@example.com)"))
    assert "<h3>Title</h3>" in html and "<strong>b</strong>" in html and "<em>i</em>" in html
    assert "<code>c</code>" in html and "<li>one</li>" in html and "<blockquote>" in html
    assert '<a href="https://example.com" target="_blank" rel="noopener noreferrer nofollow">site</a>' in html
    assert 'href="mailto:a@example.com"' in html
    assert 'href="/relative"' not in str(render_markdown("[r](/relative)"))


def test_the_sanitizer_alone_strips_raw_html():
    html = sanitize(
        '<p onclick="x()">a<script>evil()</script><img src=x onerror=y()>'
        '<a href="javascript:z()" style="color:red" target="_top">l</a><svg onload=q()></svg>'
        '<form action="https://evil.test"><input name=p></form><h1>h</h1></p>'
    )
    assert html.startswith("<p>a") and "evil()" not in html and "<img" not in html and "<svg" not in html
    assert "<form" not in html and "<input" not in html and "style=" not in html and "onclick" not in html
    assert "javascript" not in html and 'target="_blank"' in html and "<h1>" not in html
