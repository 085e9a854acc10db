"""Fetching tenants' web pages safely: one page, a crawl of a site, or a sitemap.

    fetch(url)              one page: SSRF-safe, redirects followed by hand, size and time capped
    crawl(start_url)        breadth-first over one site, robots.txt honoured; yields Fetched pages
                            and CrawlFailure records (a failed page never stops the crawl)
    sitemap_urls(url)       the page addresses in a sitemap (index, nested, gzip), same site only
    RobotsCache             robots.txt once per site per crawl, Crawl-delay honoured up to a cap

Where a request may go (DESIGN_NOTES §8, RELIABILITY §4). Every hop of a fetch, redirects
included, is checked the same way before anything connects:

- http:// or https:// only (``saas.outbound.url_host_check`` judges the shape);
- the host is resolved once, here, and EVERY address it resolves to must be public
  (``saas.outbound.address_is_public``: no loopback, private, link-local/metadata, CGNAT,
  multicast, reserved, unspecified, IPv6 ULA/link-local, nor IPv4 hidden in IPv6);
- the connection then goes to one of exactly those checked addresses, never to a second
  lookup: a ``httpcore2`` network backend (:class:`_PinnedBackend`) receives the host name
  from the connection and connects to the pinned address instead, so a DNS answer that
  changes between check and connect (DNS rebinding) cannot move the request. The URL keeps
  the real host name, so the Host header, TLS SNI and certificate verification are all for
  the name the tenant gave.

Settings: ``KNOWLEDGE_FETCH_ALLOW_PRIVATE`` (default False) lifts the address rule for
development. ``KNOWLEDGE_FETCH_PRIVATE_ALLOWLIST`` (default []) lists "host:port" entries
(as written in the URL, e.g. "127.0.0.1:8123"; IPv6 as "[::1]:8123") that may be private;
every other private address stays refused. ``KNOWLEDGE_CRAWL_DELAY_CAP`` (default 2 s) caps
robots.txt Crawl-delay. ``PLATFORM_NAME`` and ``BASE_DOMAIN`` name our user agent.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import socket
import ssl
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib import robotparser
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

import httpcore2
import lxml.etree
import lxml.html
from django.conf import settings

from saas.outbound import UnsafeAddress, address_is_public, url_host_check

logger = logging.getLogger(__name__)

MB = 1024 * 1024
DEFAULT_MAX_BYTES = 5 * MB
DEFAULT_TIMEOUT = 10.0
MAX_REDIRECTS = 5
ROBOTS_MAX_BYTES = 500 * 1024  # Google reads the first 500 KiB of a robots.txt
SITEMAP_MAX_BYTES = 10 * MB  # decompressed
MAX_LINKS_PER_PAGE = 5000

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# What a knowledge source can be made of: web pages, plain text, XML (sitemaps), PDF, DOCX.
DEFAULT_ACCEPT = frozenset(
    {*HTML_TYPES, "text/plain", "application/xml", "text/xml", "application/pdf", DOCX_TYPE}
)
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
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
KEPT_HEADERS = (
    "content-type",
    "content-length",
    "content-language",
    "content-disposition",
    "last-modified",
    "etag",
    "x-robots-tag",
)
TRACKING_PARAMS = frozenset({"gclid", "dclid", "fbclid", "msclkid", "mc_cid", "mc_eid", "_ga", "yclid"})
SKIPPED_EXTENSIONS = frozenset(
    {
        ".jpg", ".jpeg", ".png", ".gif", ".webp", ".svg", ".ico", ".bmp", ".tif", ".tiff",
        ".css", ".js", ".mjs", ".json", ".woff", ".woff2", ".ttf", ".eot",
        ".zip", ".gz", ".tgz", ".rar", ".7z", ".tar", ".exe", ".dmg", ".apk", ".iso",
        ".mp3", ".mp4", ".m4a", ".wav", ".ogg", ".webm", ".mov", ".avi",
    }
)  # fmt: skip


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
    headers: dict[str, str] = field(default_factory=dict)  # a subset, see KEPT_HEADERS
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


# --- settings -----------------------------------------------------------------------------


def default_user_agent() -> str:
    name = "".join(ch for ch in str(getattr(settings, "PLATFORM_NAME", "ChatbotPlatform")) if ch.isalnum())
    return f"{name or 'ChatbotPlatform'}Bot/1.0 (+https://{settings.BASE_DOMAIN}/bot)"


def _allow_private_setting() -> bool:
    return bool(getattr(settings, "KNOWLEDGE_FETCH_ALLOW_PRIVATE", False))


def _private_allowlist() -> frozenset[str]:
    return frozenset(
        str(entry).strip().lower() for entry in getattr(settings, "KNOWLEDGE_FETCH_PRIVATE_ALLOWLIST", [])
    )


def _delay_cap_setting() -> float:
    return float(getattr(settings, "KNOWLEDGE_CRAWL_DELAY_CAP", 2.0))


def _human_size(n: int) -> str:
    for unit, size in (("MB", MB), ("KB", 1024)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value.is_integer() or value >= 10 else f"{value:.1f} {unit}"
    return f"{n} bytes"


# --- one hop: where it goes -------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    url: str
    scheme: str
    host: str  # ASCII (IDNA), lower case, IPv6 without brackets
    port: int  # effective port
    explicit_port: bool
    target: str  # path and query, percent-encoded

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}" if self.explicit_port else host

    @property
    def host_port(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def _parse_target(url: str) -> _Target:
    try:
        url_host_check(url, allow_private=True)  # shape only: http(s) and a host
    except UnsafeAddress as exc:
        raise FetchError(str(exc), code="bad_url", url=url) from exc
    parts = urlsplit(url)
    try:
        port = parts.port
        host = parts.hostname.rstrip(".") if parts.hostname else ""
        if host and ":" not in host:
            host = host.encode("idna").decode("ascii").lower()
    except (ValueError, UnicodeError) as exc:
        raise FetchError("This is not a valid web address.", code="bad_url", url=url) from exc
    if not host:
        raise FetchError("This is not a valid web address.", code="bad_url", url=url)
    scheme = parts.scheme.lower()
    default = 443 if scheme == "https" else 80
    return _Target(
        url=url,
        scheme=scheme,
        host=host,
        port=port or default,
        explicit_port=port is not None and port != default,
        target=_request_target(parts.path, parts.query),
    )


def _request_target(path: str, query: str) -> str:
    target = quote(path or "/", safe="/%!$&'()*+,;=:@-._~")
    if query:
        target += "?" + quote(query, safe="/?%!$&'()*+,;=:@-._~")
    return target


def _resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, in resolver order (an IP literal is itself)."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise FetchError(f"The host name {host} does not resolve.", code="dns") from exc
    addresses: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def _checked_addresses(target: _Target, allow_private: bool) -> list[str]:
    """Resolve once and refuse unless every address may be reached; these are then pinned."""
    addresses = _resolve(target.host, target.port)
    if not addresses:
        raise FetchError(f"The host name {target.host} does not resolve.", code="dns", url=target.url)
    if allow_private or target.host_port in _private_allowlist():
        return addresses
    for address in addresses:
        if not address_is_public(address):
            shown = target.host if target.host == address else f"{target.host} ({address})"
            raise FetchError(
                f"This address is on a private network: {shown}. Only public websites can be fetched.",
                code="private_address",
                url=target.url,
            )
    return addresses


# --- one hop: connecting to the pinned address ----------------------------------------------


class _DeadlineStream(httpcore2.NetworkStream):
    """Bounds every socket operation by the fetch's overall deadline (a slow drip of bytes
    cannot keep a fetch alive past it)."""

    def __init__(self, inner: httpcore2.NetworkStream, deadline: float):
        self._inner = inner
        self._deadline = deadline

    def _remaining(self, timeout: float | None, exc: type[Exception]) -> float:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise exc("deadline passed")
        return remaining if timeout is None else min(timeout, remaining)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._remaining(timeout, httpcore2.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._remaining(timeout, httpcore2.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore2.NetworkStream:
        inner = self._inner.start_tls(
            ssl_context, server_hostname, self._remaining(timeout, httpcore2.ConnectTimeout)
        )
        return _DeadlineStream(inner, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _PinnedBackend(httpcore2.SyncBackend):
    """httpcore2's network backend for one host: connects to the addresses checked for that
    host (first that answers), whatever the name would resolve to now. Anything else is refused."""

    def __init__(self, host: str, addresses: list[str], deadline: float):
        self._host = host
        self._addresses = addresses
        self._deadline = deadline
        self.connected_to: str | None = None

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.NetworkStream:
        if host.strip("[]").lower() != self._host:
            raise httpcore2.ConnectError(f"refusing to connect to unpinned host {host!r}")
        error: Exception = httpcore2.ConnectError("no address")
        for address in self._addresses:
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                raise httpcore2.ConnectTimeout("deadline passed")
            try:
                stream = super().connect_tcp(
                    address,
                    port,
                    timeout=remaining if timeout is None else min(timeout, remaining),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore2.ConnectError as exc:
                error = exc
                continue
            self.connected_to = address
            return _DeadlineStream(stream, self._deadline)
        raise error


@lru_cache(maxsize=1)
def _shared_tls_context() -> ssl.SSLContext:
    return httpcore2.default_ssl_context()


def _tls_context() -> ssl.SSLContext:
    """Certificates verified against the host name in the URL (tests replace this)."""
    return _shared_tls_context()


class _Decoder:
    """Content-Encoding undone with a bound on the output, so a small gzip bomb cannot
    expand past max_bytes in memory."""

    def __init__(self, encoding: str, url: str):
        encoding = encoding.strip().lower()
        if encoding in ("", "identity"):
            self._z = None
        elif encoding in ("gzip", "x-gzip", "deflate"):
            self._z = zlib.decompressobj(wbits=47)  # gzip or zlib header, detected
        else:
            raise FetchError(
                f"The site sent the page in an encoding we cannot read ({encoding}).",
                code="bad_encoding",
                url=url,
            )
        self._url = url

    def feed(self, data: bytes, room: int) -> bytes:
        if self._z is None:
            return data
        try:
            return self._z.decompress(data, max(room, 1))
        except zlib.error as exc:
            raise FetchError(
                "The site sent a damaged compressed page.", code="bad_encoding", url=self._url
            ) from exc

    def flush(self) -> bytes:
        return b"" if self._z is None else self._z.flush()


def _bounded_gunzip(data: bytes, limit: int, url: str) -> bytes:
    decoder = _Decoder("gzip", url)
    out = decoder.feed(data, limit + 1)
    if len(out) <= limit:
        out += decoder.flush()
    if len(out) > limit:
        raise FetchError(
            f"The file is larger than {_human_size(limit)} uncompressed.", code="too_large", url=url
        )
    return out


def _parse_content_type(value: str) -> tuple[str, str | None]:
    media, _, params = value.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset" and val.strip():
            charset = val.strip().strip("\"'").lower()
    return media.strip().lower(), charset


def _get(
    target: _Target,
    addresses: list[str],
    *,
    user_agent: str,
    deadline: float,
    timeout: float,
    max_bytes: int,
    accept: Collection[str] | None,
) -> tuple[int, dict[str, str], str | None, bytes]:
    """One GET to the pinned addresses. Returns (status, headers, location, body); the body
    is read only for a 2xx answer of an accepted type."""
    backend = _PinnedBackend(target.host, addresses, deadline)
    url = httpcore2.URL(
        scheme=target.scheme.encode(),
        host=target.host.encode("ascii"),
        port=target.port,
        target=target.target.encode("ascii"),
    )
    connection = httpcore2.HTTPConnection(
        origin=url.origin, ssl_context=_tls_context(), network_backend=backend
    )
    request_headers = [
        (b"Host", target.host_header.encode("ascii")),
        (b"User-Agent", user_agent.encode("ascii", "replace")),
        (b"Accept", b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        (b"Accept-Encoding", b"gzip"),
        (b"Connection", b"close"),
    ]
    remaining = max(deadline - time.monotonic(), 0.001)
    extensions = {"timeout": {"connect": remaining, "read": remaining, "write": remaining, "pool": remaining}}
    try:
        with connection.stream("GET", url, headers=request_headers, extensions=extensions) as response:
            headers: dict[str, str] = {}
            for key, raw in response.headers:
                name, value = key.decode("latin-1").lower(), raw.decode("latin-1")
                headers[name] = f"{headers[name]}, {value}" if name in headers else value
            status = response.status
            if status in REDIRECT_STATUSES:
                return status, headers, headers.get("location"), b""
            if status >= 400:
                raise FetchError(f"HTTP {status}", code="http_error", status=status, url=target.url)
            if not 200 <= status < 300:
                raise FetchError(
                    f"HTTP {status}: the site did not send a page.",
                    code="http_error",
                    status=status,
                    url=target.url,
                )
            media, _ = _parse_content_type(headers.get("content-type", ""))
            if accept is not None and media not in accept:
                shown = media or "no content type"
                raise FetchError(
                    f"Not an HTML page: the site sent {shown}, and only web pages, text, XML, PDF and DOCX "
                    "can be added.",
                    code="unsupported_type",
                    status=status,
                    url=target.url,
                )
            too_large = FetchError(
                f"The page is larger than {_human_size(max_bytes)}.",
                code="too_large",
                status=status,
                url=target.url,
            )
            declared = headers.get("content-length", "").strip()
            if declared.isdigit() and int(declared) > max_bytes:
                raise too_large
            decoder = _Decoder(headers.get("content-encoding", ""), target.url)
            body = bytearray()
            for chunk in response.iter_stream():
                body += decoder.feed(chunk, max_bytes - len(body) + 1)
                if len(body) > max_bytes:
                    raise too_large
            body += decoder.flush()
            if len(body) > max_bytes:
                raise too_large
            return status, headers, None, bytes(body)
    except httpcore2.TimeoutException as exc:
        raise FetchError(
            f"The site did not answer within {timeout:g} s.", code="timeout", url=target.url
        ) from exc
    except httpcore2.ConnectError as exc:
        if isinstance(exc.__cause__, ssl.SSLError):
            raise _tls_error(target, exc.__cause__) from exc
        raise FetchError(
            f"Could not connect to {target.host}: the site is down or refuses connections.",
            code="connect_failed",
            url=target.url,
        ) from exc
    except (httpcore2.NetworkError, httpcore2.ProtocolError) as exc:
        raise FetchError(
            f"The connection to {target.host} failed before the page was complete.",
            code="network",
            url=target.url,
        ) from exc
    except ssl.SSLError as exc:
        raise _tls_error(target, exc) from exc
    finally:
        connection.close()


def _tls_error(target: _Target, exc: ssl.SSLError) -> FetchError:
    detail = getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or "TLS error"
    return FetchError(
        f"The secure (https) connection to {target.host} failed: {detail}.", code="tls", url=target.url
    )


# --- fetch ------------------------------------------------------------------------------------


def fetch(
    url: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: float = DEFAULT_TIMEOUT,
    user_agent: str | None = None,
    allow_private: bool | None = None,
    accept: Collection[str] | None = DEFAULT_ACCEPT,
    max_redirects: int = MAX_REDIRECTS,
    robots: RobotsCache | None = None,
) -> Fetched:
    """GET one page safely (see the module docstring) or raise :class:`FetchError`.

    ``timeout`` bounds the whole fetch, redirects included. ``accept`` lists the media types
    taken (None: any). With ``robots`` every hop must be allowed by the site's robots.txt
    and waits its turn for the site's Crawl-delay. ``allow_private`` None reads the setting.
    """
    deadline = time.monotonic() + timeout
    user_agent = user_agent or default_user_agent()
    allow_private = _allow_private_setting() if allow_private is None else allow_private
    redirects: list[str] = []
    current = url.strip()
    while True:
        try:
            target = _parse_target(current)
            if robots is not None:
                robots.check(current)
                robots.wait_turn(current)
            addresses = _checked_addresses(target, allow_private)
        except FetchError as exc:
            if redirects:  # say it was the redirect that went wrong
                exc.message = f"The page redirects to {current}, which was refused: {exc.message}"
                exc.url = url
            raise
        status, headers, location, body = _get(
            target,
            addresses,
            user_agent=user_agent,
            deadline=deadline,
            timeout=timeout,
            max_bytes=max_bytes,
            accept=accept,
        )
        if location is None and status in REDIRECT_STATUSES:
            raise FetchError(
                f"HTTP {status} without a Location to go to.", code="http_error", status=status, url=url
            )
        if location is not None:
            redirects.append(current)
            if len(redirects) > max_redirects:
                raise FetchError(
                    f"The site redirected more than {max_redirects} times.",
                    code="too_many_redirects",
                    url=url,
                )
            current = urljoin(current, location.strip()).split("#", 1)[0]
            continue
        media, charset = _parse_content_type(headers.get("content-type", ""))
        return Fetched(
            url=url,
            final_url=current,
            status=status,
            content_type=media,
            charset=charset,
            body=body,
            headers={k: headers[k] for k in KEPT_HEADERS if k in headers},
            redirects=redirects,
        )


# --- robots.txt -------------------------------------------------------------------------------


def _origin(url: str) -> str:
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
        origin = _origin(url)
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
                parser.allow_all = True
            else:
                logger.info("robots.txt of %s unavailable (%s): nothing is fetched there", origin, exc)
                parser.disallow_all = True
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
            failure = self._failures.get(_origin(url))
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
        origin = _origin(url)
        with self._lock:
            now = time.monotonic()
            turn = max(now, self._next_turn.get(origin, now))
            self._next_turn[origin] = turn + delay
        if turn > now:
            self._sleep(turn - now)


# --- links and sites --------------------------------------------------------------------------


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


def _skipped_by_extension(url: str) -> bool:
    path = urlsplit(url).path.lower()
    dot = path.rfind(".")
    return dot > path.rfind("/") and path[dot:] in SKIPPED_EXTENSIONS


# --- crawl ------------------------------------------------------------------------------------


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
            if link not in seen and on_site(link) and not _skipped_by_extension(link):
                seen.add(link)
                queue.append((link, depth + 1))


# --- sitemaps ---------------------------------------------------------------------------------


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
                body = _bounded_gunzip(body, max_bytes, url)
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
