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


def _design_system(tag: str, attrs: list[tuple[str, str]]) -> bool:
    """The page's own elements of the design system: a script file of ours, an icon of
    the sprite (an ``svg`` of class "icon" and its ``use``)."""
    values = dict(attrs)
    if tag == "script":
        return set(values) <= {"src", "defer"} and values.get("src", "").startswith("/static/")
    if tag == "svg":
        return values.get("class", "").split()[:1] == ["icon"] and not any(n.startswith("on") for n in values)
    if tag == "use":
        return set(values) == {"href"} and values["href"].startswith("/static/ui/icons.svg#")
    return False


def assert_inert(html: str, *, allowed: set[str] = frozenset(), design_system: bool = False) -> None:
    """No active element, no event handler, no script or data URL in any real tag of
    ``html`` (with ``design_system``, a whole dashboard page: its own script files and
    sprite icons aside)."""
    parser = _Tags()
    parser.feed(html)
    for tag, attrs in parser.tags:
        if design_system and _design_system(tag, attrs):
            continue
        assert tag not in ACTIVE_TAGS - allowed, tag
        for name, value in attrs:
            assert not name.startswith("on") and name not in {"style", "src", "srcdoc"}, (tag, name)
            if name in {"href", "action", "formaction", "xlink:href"}:
                assert value.startswith(("http://", "https://", "mailto:", "/", "?", "#")), (tag, value)
                assert "evil.test" not in value or tag == "a", (tag, value)
