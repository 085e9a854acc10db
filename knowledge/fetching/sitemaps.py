"""Sitemaps: the page addresses a site lists (indexes, nested, gzip), same site only, read
without entities, DTDs or network access."""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

import lxml.etree

from .decoding import MB, bounded_gunzip
from .links import normalize_url, site_key
from .page import fetch
from .results import FetchError

logger = logging.getLogger(__name__)

SITEMAP_MAX_BYTES = 10 * MB  # decompressed
SITEMAP_ACCEPT = frozenset(
    {
        "application/xml",
        "text/xml",
        "text/plain",
        "application/gzip",
        "application/x-gzip",
        "application/octet-stream",
    }
)


def _xml_parser() -> lxml.etree.XMLParser:
    # No entities, no DTD, no network, no huge trees: no XXE, no billion laughs.
    return lxml.etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
        recover=True,
    )


def parse_sitemap(body: bytes) -> tuple[str, list[str]]:
    """("index" or "urlset", the <loc> values) of a sitemap document; a text sitemap (one URL
    per line) is a urlset."""
    stripped = body.lstrip()
    if not stripped.startswith(b"<"):
        lines = stripped.decode("utf-8", "replace").splitlines()
        return "urlset", [line.strip() for line in lines if line.strip()]
    try:
        root = lxml.etree.fromstring(stripped, parser=_xml_parser())
    except lxml.etree.XMLSyntaxError:
        return "urlset", []
    if root is None:
        return "urlset", []
    kind = "index" if lxml.etree.QName(root).localname.lower() == "sitemapindex" else "urlset"
    locs = [(el.text or "").strip() for el in root.iter("{*}loc") if isinstance(el.tag, str)]
    return kind, [loc for loc in locs if loc]


def sitemap_urls(
    sitemap_url: str,
    *,
    max_urls: int = 1000,
    max_sitemaps: int = 50,
    max_nesting: int = 3,
    max_bytes: int = SITEMAP_MAX_BYTES,
    **fetch_options: Any,
) -> list[str]:
    """The page URLs listed in a sitemap, following sitemap indexes (at most ``max_nesting``
    levels and ``max_sitemaps`` files), gzip-compressed files too. Only URLs of the sitemap's
    own site are kept, without duplicates, at most ``max_urls``. The first sitemap failing
    raises :class:`FetchError`; a nested one failing is skipped (logged)."""
    first = normalize_url(sitemap_url)
    if first is None:
        raise FetchError("Use an http:// or https:// address.", code="bad_url", url=sitemap_url)
    sites = {site_key(first)}
    queue: deque[tuple[str, int]] = deque([(first, 0)])
    seen_maps = {first}
    urls: list[str] = []
    seen_urls: set[str] = set()
    fetched_count = 0
    while queue and len(urls) < max_urls and fetched_count < max_sitemaps:
        url, level = queue.popleft()
        try:
            page = fetch(url, max_bytes=max_bytes, accept=SITEMAP_ACCEPT, **fetch_options)
            body = page.body
            if body[:2] == b"\x1f\x8b":
                body = bounded_gunzip(body, max_bytes, url)
        except FetchError as exc:
            if fetched_count == 0:
                raise
            logger.info("sitemap %s skipped: %s", url, exc)
            continue
        if fetched_count == 0:
            sites.add(site_key(page.final_url))
        fetched_count += 1
        kind, locs = parse_sitemap(body)
        for loc in locs:
            link = normalize_url(loc, page.final_url)
            if link is None or site_key(link) not in sites:
                continue
            if kind == "index":
                if level < max_nesting and link not in seen_maps:
                    seen_maps.add(link)
                    queue.append((link, level + 1))
            elif link not in seen_urls:
                seen_urls.add(link)
                urls.append(link)
                if len(urls) >= max_urls:
                    break
    return urls
