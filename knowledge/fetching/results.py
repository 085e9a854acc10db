"""What a fetch gives back: a page, or the reason it could not be had."""

from __future__ import annotations

from dataclasses import dataclass, field

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


class FetchError(Exception):
    """A page that could not be fetched, with a reason a person can act on.

    ``code`` is stable for programs ("private_address", "bad_url", "dns", "robots",
    "robots_unavailable", "too_large", "timeout", "http_error", "unsupported_type",
    "too_many_redirects", "connect_failed", "tls", "network", "bad_encoding", "off_site");
    ``status`` is the HTTP status when there was one.
    """

    def __init__(self, message: str, *, code: str = "fetch_failed", status: int | None = None, url: str = ""):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.url = url

    def __str__(self) -> str:
        return self.message


@dataclass
class Fetched:
    url: str  # what was asked for
    final_url: str  # where the body came from, after redirects
    status: int
    content_type: str  # media type only, lower case ("text/html")
    body: bytes  # decoded from any Content-Encoding, at most max_bytes
    charset: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # a subset, see page.KEPT_HEADERS
    redirects: list[str] = field(default_factory=list)  # the URLs that redirected, in order
    error: str = ""  # always empty; lets callers treat pages and CrawlFailure alike

    @property
    def ok(self) -> bool:
        return True

    @property
    def is_html(self) -> bool:
        return self.content_type in HTML_TYPES


@dataclass
class CrawlFailure:
    """A page of a crawl that failed; the crawl goes on without it."""

    url: str
    reason: FetchError

    @property
    def ok(self) -> bool:
        return False

    @property
    def error(self) -> str:
        return str(self.reason)

    @property
    def final_url(self) -> str:
        return self.url
