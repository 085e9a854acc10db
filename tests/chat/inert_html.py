"""What "inert" means for HTML we render from visitors', agents' and models' text: no
active element, no event handler, no script or data URL in any real tag."""

from __future__ import annotations

from html.parser import HTMLParser


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str]]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, [(k.lower(), (v or "").strip().lower()) for k, v in attrs]))


ACTIVE_TAGS = {"script", "img", "svg", "iframe", "object", "embed", "form", "input", "button", "style"}
PAGE_TAGS = {"form", "input", "button", "style"}  # the dashboard's own forms and stylesheet


def assert_inert(html: str, *, allowed: set[str] = frozenset()) -> None:
    """No active element, no event handler, no script or data URL in any real tag of ``html``."""
    parser = _Tags()
    parser.feed(html)
    for tag, attrs in parser.tags:
        assert tag not in ACTIVE_TAGS - allowed, tag
        for name, value in attrs:
            assert not name.startswith("on") and name not in {"style", "src", "srcdoc"}, (tag, name)
            if name in {"href", "action", "formaction", "xlink:href"}:
                assert value.startswith(("http://", "https://", "mailto:", "/", "?", "#")), (tag, value)
                assert "evil.test" not in value or tag == "a", (tag, value)
