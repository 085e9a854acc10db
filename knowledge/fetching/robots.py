"""robots.txt: fetched once per site per crawl, honoured for every page, Crawl-delay waited
out up to a cap (``KNOWLEDGE_CRAWL_DELAY_CAP``, default 2 s)."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from urllib import robotparser
from urllib.parse import urlsplit

from django.conf import settings

from .page import DEFAULT_TIMEOUT, default_user_agent, fetch
from .results import FetchError

logger = logging.getLogger(__name__)

ROBOTS_MAX_BYTES = 500 * 1024  # Google reads the first 500 KiB of a robots.txt


def _delay_cap_setting() -> float:
    return float(getattr(settings, "KNOWLEDGE_CRAWL_DELAY_CAP", 2.0))


def origin_of(url: str) -> str:
    """scheme://host[:port] of ``url``, the port only when it is not the scheme's default."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    host = f"[{host}]" if ":" in host else host
    try:
        port = parts.port
    except ValueError:
        port = None
    if port and port != (443 if scheme == "https" else 80):
        host = f"{host}:{port}"
    return f"{scheme}://{host}"


class RobotsCache:
    """robots.txt of each site, fetched once (through :func:`fetch`) and kept for the life of
    this object; use one per crawl.

    404 and other 4xx (except 429) mean everything is allowed; 5xx, 429, a timeout or any
    other failure mean nothing is (Google's convention). Crawl-delay is honoured up to
    ``max_crawl_delay`` seconds (default ``KNOWLEDGE_CRAWL_DELAY_CAP``, 2 s; 0 ignores it).
    Wildcards (``*``, ``$``) in rules are not understood (urllib.robotparser): prefixes are.
    """

    def __init__(
        self,
        *,
        user_agent: str | None = None,
        allow_private: bool | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_crawl_delay: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.user_agent = user_agent or default_user_agent()
        self.allow_private = allow_private
        self.timeout = timeout
        self.max_crawl_delay = _delay_cap_setting() if max_crawl_delay is None else max_crawl_delay
        self._sleep = sleep
        self._parsers: dict[str, robotparser.RobotFileParser] = {}
        self._failures: dict[str, FetchError] = {}  # robots.txt that could not be read, by site
        self._next_turn: dict[str, float] = {}
        self._lock = threading.Lock()

    def parser_for(self, url: str) -> robotparser.RobotFileParser:
        origin = origin_of(url)
        with self._lock:
            parser = self._parsers.get(origin)
        if parser is None:
            parser = self._load(origin)
            with self._lock:
                parser = self._parsers.setdefault(origin, parser)
        return parser

    def _load(self, origin: str) -> robotparser.RobotFileParser:
        parser = robotparser.RobotFileParser(origin + "/robots.txt")
        try:
            fetched = fetch(
                origin + "/robots.txt",
                max_bytes=ROBOTS_MAX_BYTES,
                timeout=self.timeout,
                user_agent=self.user_agent,
                allow_private=self.allow_private,
                accept=None,
            )
        except FetchError as exc:
            if exc.status is not None and 400 <= exc.status < 500 and exc.status != 429:
                # What RobotFileParser.read() sets itself; typeshed leaves both flags out.
                parser.allow_all = True  # type: ignore[attr-defined]
            else:
                logger.info("robots.txt of %s unavailable (%s): nothing is fetched there", origin, exc)
                parser.disallow_all = True  # type: ignore[attr-defined]
                with self._lock:
                    self._failures[origin] = exc
            return parser
        parser.parse(fetched.body.decode("utf-8", "replace").splitlines())
        return parser

    def allowed(self, url: str) -> bool:
        return self.parser_for(url).can_fetch(self.user_agent, url)

    def check(self, url: str) -> None:
        """Raise :class:`FetchError` unless robots.txt lets us fetch ``url``."""
        if self.allowed(url):
            return
        with self._lock:
            failure = self._failures.get(origin_of(url))
        if failure is None:
            raise FetchError("robots.txt disallows this page.", code="robots", url=url)
        if failure.code in ("private_address", "bad_url", "dns"):  # the page itself would fail the same way
            raise FetchError(failure.message, code=failure.code, url=url)
        raise FetchError(
            f"The site's robots.txt could not be read ({failure.message}), so its pages are not fetched.",
            code="robots_unavailable",
            url=url,
        )

    def crawl_delay(self, url: str) -> float:
        try:
            delay = float(self.parser_for(url).crawl_delay(self.user_agent) or 0)
        except (TypeError, ValueError):
            delay = 0.0
        if not math.isfinite(delay) or delay < 0:
            delay = 0.0
        return min(delay, self.max_crawl_delay)

    def sitemaps(self, url: str) -> list[str]:
        return list(self.parser_for(url).site_maps() or [])

    def wait_turn(self, url: str) -> None:
        """Sleep until this site's Crawl-delay has passed since our previous request to it."""
        delay = self.crawl_delay(url)
        origin = origin_of(url)
        with self._lock:
            now = time.monotonic()
            turn = max(now, self._next_turn.get(origin, now))
            self._next_turn[origin] = turn + delay
        if turn > now:
            self._sleep(turn - now)
