"""Rebuild static/ui/icons.svg, the dashboard's icon sprite, from Lucide (ISC licence).

The sprite is committed; run this only to add an icon:

    npm pack lucide-static@1.62.0 && tar xzf lucide-static-1.62.0.tgz
    python scripts/build_icons.py package/icons

Templates use an icon by name: ``<c-icon name="copy" />`` (templates/cotton/icon.html).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ICONS = [
    "menu",
    "x",
    "layout-dashboard",
    "message-circle",
    "book-open",
    "messages-square",
    "chart-column",
    "users",
    "credit-card",
    "settings",
    "key-round",
    "log-out",
    "user",
    "chevron-down",
    "chevrons-up-down",
    "copy",
    "check",
    "circle-check",
    "circle-alert",
    "triangle-alert",
    "info",
    "plus",
    "trash-2",
    "grip-vertical",
    "arrow-up",
    "arrow-down",
    "external-link",
    "search",
    "upload",
    "refresh-cw",
    "sparkles",
    "bot",
    "shield",
    "eye",
    "clock",
    "globe",
    "palette",
    "code",
    "circle",
    "lock",
    "arrow-right",
    "sun",
    "moon",
    "circle-dashed",
    "loader-circle",
    "inbox",
    "file-text",
    "link",
    "mail",
    "paperclip",
    "thumbs-up",
    "thumbs-down",
]

OUT = Path(__file__).resolve().parent.parent / "static" / "ui" / "icons.svg"


def symbol(name: str, source: str) -> str:
    body = re.search(r"<svg[^>]*>(.*)</svg>", source, re.S)
    if body is None:
        raise SystemExit(f"{name}: not an SVG")
    inner = " ".join(line.strip() for line in body.group(1).strip().splitlines())
    return f'<symbol id="{name}" viewBox="0 0 24 24">{inner}</symbol>'


def main(folder: str) -> None:
    icons = Path(folder)
    symbols = [symbol(name, (icons / f"{name}.svg").read_text()) for name in ICONS]
    OUT.write_text(
        "<!-- Lucide icons (ISC licence, https://lucide.dev), built by scripts/build_icons.py -->\n"
        '<svg xmlns="http://www.w3.org/2000/svg" fill="none" stroke="currentColor" stroke-width="2" '
        'stroke-linecap="round" stroke-linejoin="round">\n' + "\n".join(symbols) + "\n</svg>\n"
    )
    print(f"{OUT}: {len(symbols)} icons")


if __name__ == "__main__":
    main(sys.argv[1])
