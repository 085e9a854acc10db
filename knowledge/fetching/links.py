"""Links and sites: one spelling per URL, which pages belong to one site, and the links of
an HTML page."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

import lxml.etree
import lxml.html

from .results import Fetched

MAX_LINKS_PER_PAGE = 5000
TRACKING_PARAMS = frozenset({"gclid", "dclid", "fbclid", "msclkid", "mc_cid", "mc_eid", "_ga", "yclid"})
SKIPPED_EXTENSIONS = frozenset(
    {
        ".jpg", ".jpeg", ".png", ".gif", ".webp", ".svg", ".ico", ".bmp", ".tif", ".tiff",
        ".css", ".js", ".mjs", ".json", ".woff", ".woff2", ".ttf", ".eot",
        ".zip", ".gz", ".tgz", ".rar", ".7z", ".tar", ".exe", ".dmg", ".apk", ".iso",
        ".mp3", ".mp4", ".m4a", ".wav", ".ogg", ".webm", ".mov", ".avi",
    }
)  # fmt: skip


def normalize_url(url: str, base: str | None = None, *, strip_tracking: bool = True) -> str | None:
    """An absolute http(s) URL in one canonical spelling, or None when it is not one: relative
    references resolved, fragment and user info dropped, scheme and host in lower case,
    default ports removed, unsafe characters percent-encoded, utm_* and click ids removed."""
    url = (url or "").strip()
    if not url:
        return None
    try:
        absolute = urljoin(base, url) if base else url
        parts = urlsplit(absolute)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            return None
        host = parts.hostname.rstrip(".").lower()
        port = parts.port
    except ValueError:
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != (443 if scheme == "https" else 80):
        netloc = f"{netloc}:{port}"
    query = parts.query
    if strip_tracking and query:
        pairs = parse_qsl(query, keep_blank_values=True)
        kept = [
            (k, v) for k, v in pairs if not (k.lower().startswith("utm_") or k.lower() in TRACKING_PARAMS)
        ]
        if len(kept) != len(pairs):
            query = urlencode(kept)
    path = quote(parts.path or "/", safe="/%!$&'()*+,;=:@-._~")
    query = quote(query, safe="/?%!$&'()*+,;=:@-._~") if query else ""
    return urlunsplit((scheme, netloc, path, query, ""))


def site_key(url: str) -> tuple[str, str]:
    """Pages of one site share this: the host without a leading "www.", and the port (both
    default ports count as one, so http:// and https:// of a host are the same site)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".").lower()
    host = host.removeprefix("www.")
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None or port == (443 if scheme == "https" else 80):
        return host, "default"
    return host, f"{scheme}:{port}"


def extract_links(page: Fetched) -> list[str]:
    """The normalised http(s) links of an HTML page (a[href], area[href]), resolved against
    <base href> or the page's URL, in document order, without duplicates."""
    if not page.is_html or not page.body.strip():
        return []
    try:
        parser = lxml.html.HTMLParser(encoding=page.charset, no_network=True, remove_comments=True)
    except LookupError:
        parser = lxml.html.HTMLParser(no_network=True, remove_comments=True)
    try:
        doc = lxml.html.document_fromstring(page.body, parser=parser)
    except (lxml.etree.ParserError, ValueError, LookupError):
        return []
    base = page.final_url
    base_el = doc.find(".//base[@href]")
    if base_el is not None:
        base = normalize_url(base_el.get("href", ""), page.final_url) or base
    links: list[str] = []
    seen: set[str] = set()
    for element in doc.iter("a", "area"):
        href = (element.get("href") or "").strip()
        if not href or href.startswith("#"):
            continue
        link = normalize_url(href, base)
        if link and link not in seen:
            seen.add(link)
            links.append(link)
            if len(links) >= MAX_LINKS_PER_PAGE:
                break
    return links


def skipped_by_extension(url: str) -> bool:
    path = urlsplit(url).path.lower()
    dot = path.rfind(".")
    return dot > path.rfind("/") and path[dot:] in SKIPPED_EXTENSIONS
