"""Fetching tenants' web pages safely: one page, a crawl of a site, or a sitemap.

    fetch(url)              one page: SSRF-safe, redirects followed by hand, size and time
                            capped (``page``)
    crawl(start_url)        breadth-first over one site, robots.txt honoured; yields Fetched pages
                            and CrawlFailure records (a failed page never stops the crawl) (``crawling``)
    sitemap_urls(url)       the page addresses in a sitemap (index, nested, gzip), same site only
                            (``sitemaps``)
    RobotsCache             robots.txt once per site per crawl, Crawl-delay honoured up to a cap
                            (``robots``)
    normalize_url, site_key, extract_links   links and sites (``links``)

Every connection goes through ``saas.outbound``: the host is resolved once, every address
must pass the address rule (or KNOWLEDGE_FETCH_ALLOW_PRIVATE / the
KNOWLEDGE_FETCH_PRIVATE_ALLOWLIST allowance), and the connection goes to one of exactly
those addresses. Each redirect is a new hop, checked the same way (``page``'s docstring).
"""

from .crawling import crawl
from .decoding import MB
from .links import (
    MAX_LINKS_PER_PAGE,
    SKIPPED_EXTENSIONS,
    TRACKING_PARAMS,
    extract_links,
    normalize_url,
    site_key,
)
from .page import (
    DEFAULT_ACCEPT,
    DEFAULT_MAX_BYTES,
    DEFAULT_TIMEOUT,
    DOCX_TYPE,
    KEPT_HEADERS,
    MAX_REDIRECTS,
    REDIRECT_STATUSES,
    default_user_agent,
    fetch,
)
from .results import HTML_TYPES, CrawlFailure, Fetched, FetchError
from .robots import ROBOTS_MAX_BYTES, RobotsCache
from .sitemaps import SITEMAP_ACCEPT, SITEMAP_MAX_BYTES, parse_sitemap, sitemap_urls

__all__ = [
    "DEFAULT_ACCEPT",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_TIMEOUT",
    "DOCX_TYPE",
    "HTML_TYPES",
    "KEPT_HEADERS",
    "MAX_LINKS_PER_PAGE",
    "MAX_REDIRECTS",
    "MB",
    "REDIRECT_STATUSES",
    "ROBOTS_MAX_BYTES",
    "SITEMAP_ACCEPT",
    "SITEMAP_MAX_BYTES",
    "SKIPPED_EXTENSIONS",
    "TRACKING_PARAMS",
    "CrawlFailure",
    "FetchError",
    "Fetched",
    "RobotsCache",
    "crawl",
    "default_user_agent",
    "extract_links",
    "fetch",
    "normalize_url",
    "parse_sitemap",
    "site_key",
    "sitemap_urls",
]
