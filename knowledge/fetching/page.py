"""One page, fetched safely: every hop checked before it connects, redirects followed by
hand, size and time capped.

Where a request may go (docs/architecture.md, "Outbound calls"). Every hop of a fetch, redirects
included, goes through ``saas.outbound`` the same way:

- http:// or https:// only (``saas.outbound.url_host_check`` judges the shape);
- the connection is made by ``saas.outbound.PinnedSyncBackend``: the host is resolved once
  and EVERY address it resolves to must be public (no loopback, private, link-local/metadata,
  CGNAT, multicast, reserved, unspecified, IPv6 ULA/link-local, nor IPv4 hidden in IPv6);
  it then connects to one of exactly those checked addresses, never to a second lookup, so
  a DNS answer that changes between check and connect (DNS rebinding) cannot move the
  request. The URL keeps the real host name, so the Host header, TLS SNI and certificate
  verification are all for the name the tenant gave.

Settings: ``KNOWLEDGE_FETCH_ALLOW_PRIVATE`` (default False) lifts the address rule for
development. ``KNOWLEDGE_FETCH_PRIVATE_ALLOWLIST`` (default []) lists "host:port" entries
(as written in the URL, e.g. "127.0.0.1:8123"; IPv6 as "[::1]:8123") that may be private;
every other private address stays refused. ``PLATFORM_NAME`` and ``BASE_DOMAIN`` name our
user agent.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol
from urllib.parse import quote, urljoin, urlsplit

import httpcore2
from django.conf import settings

from saas.outbound import AddressPolicy, PinnedSyncBackend, UnsafeAddress, url_host_check

from .decoding import MB, BoundedDecoder, human_size, parse_content_type
from .results import HTML_TYPES, Fetched, FetchError

DEFAULT_MAX_BYTES = 5 * MB
DEFAULT_TIMEOUT = 10.0
MAX_REDIRECTS = 5

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# What a knowledge source can be made of: web pages, plain text, XML (sitemaps), PDF, DOCX.
DEFAULT_ACCEPT = frozenset(
    {*HTML_TYPES, "text/plain", "application/xml", "text/xml", "application/pdf", DOCX_TYPE}
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


class RobotsRules(Protocol):
    """What a fetch asks of a crawl's robots.txt (``robots.RobotsCache``)."""

    def check(self, url: str) -> None: ...

    def wait_turn(self, url: str) -> None: ...


def default_user_agent() -> str:
    name = "".join(ch for ch in str(getattr(settings, "PLATFORM_NAME", "ChatbotPlatform")) if ch.isalnum())
    return f"{name or 'ChatbotPlatform'}Bot/1.0 (+https://{settings.BASE_DOMAIN}/bot)"


def _address_policy(allow_private: bool | None) -> AddressPolicy:
    if allow_private is None:
        allow_private = bool(getattr(settings, "KNOWLEDGE_FETCH_ALLOW_PRIVATE", False))
    allowlist = getattr(settings, "KNOWLEDGE_FETCH_PRIVATE_ALLOWLIST", [])
    return AddressPolicy(
        allow_private=allow_private, allowlist=frozenset(str(entry).strip().lower() for entry in allowlist)
    )


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


def _refused(target: _Target, exc: UnsafeAddress) -> FetchError:
    """The address rule's refusal, said for a page."""
    if exc.code == "dns":
        return FetchError(f"The host name {target.host} does not resolve.", code="dns", url=target.url)
    if exc.code == "private_address":
        address = exc.address or target.host
        shown = target.host if target.host == address else f"{target.host} ({address})"
        return FetchError(
            f"This address is on a private network: {shown}. Only public websites can be fetched.",
            code="private_address",
            url=target.url,
        )
    return FetchError(str(exc), code="bad_url", url=target.url)


# --- one hop: the request ---------------------------------------------------------------


@lru_cache(maxsize=1)
def _shared_tls_context() -> ssl.SSLContext:
    return httpcore2.default_ssl_context()


def _tls_context() -> ssl.SSLContext:
    """Certificates verified against the host name in the URL (tests replace this)."""
    return _shared_tls_context()


def _get(
    target: _Target,
    *,
    policy: AddressPolicy,
    user_agent: str,
    deadline: float,
    timeout: float,
    max_bytes: int,
    accept: Collection[str] | None,
) -> tuple[int, dict[str, str], str | None, bytes]:
    """One GET through a pinned connection. Returns (status, headers, location, body); the
    body is read only for a 2xx answer of an accepted type. Raises :class:`UnsafeAddress`
    when the address rule refuses the host (nothing connected)."""
    url = httpcore2.URL(
        scheme=target.scheme.encode(),
        host=target.host.encode("ascii"),
        port=target.port,
        target=target.target.encode("ascii"),
    )
    connection = httpcore2.HTTPConnection(
        origin=url.origin,
        ssl_context=_tls_context(),
        network_backend=PinnedSyncBackend(policy, deadline=deadline),
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
            _check_answer(target, status, headers, max_bytes=max_bytes, accept=accept)
            return status, headers, None, _read_body(target, response, headers, status, max_bytes)
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


def _check_answer(
    target: _Target, status: int, headers: dict[str, str], *, max_bytes: int, accept: Collection[str] | None
) -> None:
    """Refuse an answer that is not a page we take, before its body is read."""
    if status >= 400:
        raise FetchError(f"HTTP {status}", code="http_error", status=status, url=target.url)
    if not 200 <= status < 300:
        raise FetchError(
            f"HTTP {status}: the site did not send a page.", code="http_error", status=status, url=target.url
        )
    media, _ = parse_content_type(headers.get("content-type", ""))
    if accept is not None and media not in accept:
        shown = media or "no content type"
        raise FetchError(
            f"Not an HTML page: the site sent {shown}, and only web pages, text, XML, PDF and DOCX "
            "can be added.",
            code="unsupported_type",
            status=status,
            url=target.url,
        )
    declared = headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(target, status, max_bytes)


def _read_body(
    target: _Target, response: httpcore2.Response, headers: dict[str, str], status: int, max_bytes: int
) -> bytes:
    decoder = BoundedDecoder(headers.get("content-encoding", ""), target.url)
    body = bytearray()
    for chunk in response.iter_stream():
        body += decoder.feed(chunk, max_bytes - len(body) + 1)
        if len(body) > max_bytes:
            raise _too_large(target, status, max_bytes)
    body += decoder.flush()
    if len(body) > max_bytes:
        raise _too_large(target, status, max_bytes)
    return bytes(body)


def _too_large(target: _Target, status: int, max_bytes: int) -> FetchError:
    return FetchError(
        f"The page is larger than {human_size(max_bytes)}.", code="too_large", status=status, url=target.url
    )


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
    robots: RobotsRules | None = None,
) -> Fetched:
    """GET one page safely (see the module docstring) or raise :class:`FetchError`.

    ``timeout`` bounds the whole fetch, redirects included. ``accept`` lists the media types
    taken (None: any). With ``robots`` every hop must be allowed by the site's robots.txt
    and waits its turn for the site's Crawl-delay. ``allow_private`` None reads the setting.
    """
    deadline = time.monotonic() + timeout
    user_agent = user_agent or default_user_agent()
    policy = _address_policy(allow_private)
    redirects: list[str] = []
    current = url.strip()
    while True:
        try:
            target = _parse_target(current)
            if robots is not None:
                robots.check(current)
                robots.wait_turn(current)
        except FetchError as exc:
            _said_of_redirect(exc, url=url, hop=current, redirects=redirects)
            raise
        try:
            status, headers, location, body = _get(
                target,
                policy=policy,
                user_agent=user_agent,
                deadline=deadline,
                timeout=timeout,
                max_bytes=max_bytes,
                accept=accept,
            )
        except UnsafeAddress as exc:
            refused = _refused(target, exc)
            _said_of_redirect(refused, url=url, hop=current, redirects=redirects)
            raise refused from exc
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
        media, charset = parse_content_type(headers.get("content-type", ""))
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


def _said_of_redirect(exc: FetchError, *, url: str, hop: str, redirects: list[str]) -> None:
    """A hop refused after a redirect: say it was the redirect that went wrong."""
    if redirects:
        exc.message = f"The page redirects to {hop}, which was refused: {exc.message}"
        exc.url = url
