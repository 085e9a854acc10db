"""What a reader of an HTML page does not see, removed before its text is taken
(``html_clean``, in place).

Kept: <main>/role=main, else the outermost <article>s, else the body (chosen by the HTML
extractor). Always removed: scripts, styles, forms, nav, aside, page-level header/footer (an
article's own header stays: it holds its h1), landmark roles (navigation, banner,
contentinfo, complementary, search, menu, dialog) and elements whose class or id says
cookie, consent, gdpr, banner, newsletter, sidebar, menu or breadcrumb (unless they wrap the
page's content: a main, article or h1 inside, or more than half of the page's text). Text
hidden from readers is dropped, being the usual carrier of prompt injections aimed at the
bot: the ``hidden`` attribute, aria-hidden=true, inline display:none, visibility:hidden,
opacity:0, font-size of 0 or 1px, zero height/width with overflow hidden, off-screen
positioning or clipping, utility classes (hidden, d-none, sr-only, visually-hidden... unless
a responsive class shows them again), simple top-level <style> rules hiding a class or id,
and text whose inline colour cannot be told from the nearest inline background (contrast
below 1.1, transparent text); with no inline background the page's (from body/html rules or
bgcolor) or white is assumed. Exception: panels a click reveals (the target of an
aria-controls with aria-expanded or role=tab, role=tabpanel, hidden="until-found") are
content, FAQ accordions being typical; aria-hidden and the colour/size tricks still drop
them. Stylesheets are not otherwise applied: a dark page whose background comes from CSS
this does not read may lose inline white text.
"""

from __future__ import annotations

import colorsys
import re
from dataclasses import dataclass

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
_HIDDEN_CLASSES = {
    "hidden", "d-none", "invisible", "sr-only", "visually-hidden", "visuallyhidden", "screen-reader-text",
    "screen-reader-only", "is-hidden", "u-hidden", "hide", "display-none", "element-invisible",
}  # fmt: skip
_RESPONSIVE_SHOW = re.compile(
    r"^(?:(?:sm|md|lg|xl|2xl):(?:block|inline|inline-block|flex|inline-flex|grid|inline-grid|table|contents|flow-root)"
    r"|d-(?:sm|md|lg|xl|xxl)-(?:block|inline|inline-block|flex|inline-flex|grid|table|table-cell|table-row))$"
)


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


def html_clean(root) -> None:
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
