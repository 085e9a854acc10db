"""Markdown for bot and agent messages shown in the dashboard.

Two layers: markdown-it-py in CommonMark mode with raw HTML off and images off (so a
message can never embed markup or make the browser fetch anything), then nh3 with an
explicit allow-list of tags and one attribute (``a href``, http/https/mailto only, no
relative URLs). Whatever the first layer lets through, the second strips.
"""

from __future__ import annotations

import functools
import re

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

ALLOWED_TAGS = frozenset(
    {"p", "br", "strong", "em", "code", "pre", "ul", "ol", "li", "a", "blockquote", "h3", "h4", "hr"}
)
ALLOWED_ATTRIBUTES = {"a": {"href"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"
# Headings inside a message sit below the page's own h1/h2.
HEADING_TAGS = {"h1": "h3", "h2": "h4", "h3": "h4", "h4": "h4", "h5": "h4", "h6": "h4"}


# A tag as nh3 writes it: attribute values always in double quotes, a quote inside escaped.
_TAG = re.compile(r'(<(?:[^>"]|"[^"]*")*>)')


def _quotes_escaped(html: str) -> str:
    """Quotes in text escaped as Django's autoescape would (nh3 leaves them bare): text
    like ``href="javascript:`` in a message then never reads like markup to anyone."""
    parts = _TAG.split(html)
    for i in range(0, len(parts), 2):  # even parts are text between tags
        parts[i] = parts[i].replace('"', "&quot;").replace("'", "&#x27;")
    return "".join(parts)


@functools.cache
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).disable("image")


def sanitize(html: str) -> str:
    """``html`` reduced to the allow-list (links open in a new tab, without referrer)."""
    cleaned = nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags={"script", "style"},
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        url_relative="deny",
        link_rel=LINK_REL,
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    )
    return _quotes_escaped(cleaned)


def render_markdown(text: str) -> SafeString:
    """``text`` (Markdown written by a bot or an agent) as safe HTML."""
    parser = _parser()
    tokens = parser.parse(text or "")
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = HEADING_TAGS.get(token.tag, "h4")
    html = parser.renderer.render(tokens, parser.options, {})
    return mark_safe(sanitize(html))  # noqa: S308 - sanitized by nh3 against the allow-list
