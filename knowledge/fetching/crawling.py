"""A crawl: breadth-first over one site, every page fetched safely, robots.txt honoured."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .links import extract_links, normalize_url, site_key, skipped_by_extension
from .page import DEFAULT_TIMEOUT, fetch
from .results import CrawlFailure, Fetched, FetchError
from .robots import RobotsCache


def crawl(
    start_url: str,
    *,
    max_depth: int = 2,
    max_pages: int = 50,
    same_site_only: bool = True,
    on_page: Callable[[Fetched], None] | None = None,
    seeds: Iterable[str] = (),
    robots: RobotsCache | None = None,
    **fetch_options: Any,
) -> Iterator[Fetched | CrawlFailure]:
    """Breadth-first over a site from ``start_url``, yielding each page as it is fetched.

    Failures never stop the crawl and never raise: each failed page (HTTP error, refused
    address, too large, timeout, disallowed by robots.txt, redirected off the site) is
    YIELDED as a :class:`CrawlFailure` (``ok`` False, ``error`` the reason); pages are
    :class:`Fetched` (``ok`` True). ``on_page`` is called with each Fetched page before it is
    yielded. ``max_pages`` bounds the requests made for pages (fetched or failed; pages
    skipped for robots.txt cost nothing). Depth 0 is the start page (and ``seeds``, e.g.
    from a sitemap); links of pages at ``max_depth`` are not followed. Only HTML is parsed
    for links; PDF, DOCX and text pages are yielded as they are. Links to images, scripts,
    archives and media are not followed. ``fetch_options`` go to :func:`fetch`.
    """
    start = normalize_url(start_url)
    if start is None:
        yield CrawlFailure(start_url, FetchError("Use an http:// or https:// address.", code="bad_url"))
        return
    if robots is None:
        robots = RobotsCache(
            user_agent=fetch_options.get("user_agent"),
            allow_private=fetch_options.get("allow_private"),
            timeout=fetch_options.get("timeout", DEFAULT_TIMEOUT),
        )
    sites = {site_key(start)}

    def on_site(url: str) -> bool:
        return not same_site_only or site_key(url) in sites

    queue: deque[tuple[str, int]] = deque([(start, 0)])
    seen = {start}
    for seed in seeds:
        link = normalize_url(seed)
        if link and link not in seen and on_site(link):
            seen.add(link)
            queue.append((link, 0))
    done: set[str] = set()  # final URLs already yielded (two links may redirect to one page)
    requests = 0
    while queue and requests < max_pages:
        url, depth = queue.popleft()
        try:
            robots.check(url)
        except FetchError as exc:
            yield CrawlFailure(url, exc)
            continue
        try:
            requests += 1
            page = fetch(url, robots=robots, **fetch_options)
        except FetchError as exc:
            yield CrawlFailure(url, exc)
            continue
        final = normalize_url(page.final_url) or page.final_url
        if url == start:
            sites.add(site_key(final))  # the start page may redirect to www. or https://
        if not on_site(final):
            error = FetchError(
                f"The page redirects away from the site, to {final}.", code="off_site", url=url
            )
            yield CrawlFailure(url, error)
            continue
        if final in done:
            continue
        done.add(final)
        seen.add(final)
        if on_page is not None:
            on_page(page)
        yield page
        if depth >= max_depth:
            continue
        for link in extract_links(page):
            if link not in seen and on_site(link) and not skipped_by_extension(link):
                seen.add(link)
                queue.append((link, depth + 1))
