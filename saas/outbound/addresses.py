"""The address rule: refusing server-side requests to places a tenant must not reach (SSRF).

Tenants give us URLs we call from inside our network: OpenAI-compatible servers, embedding
servers, pages to ingest. Each host is resolved once and every address it resolves to must
be a public unicast address: never loopback, private, link-local (cloud metadata lives at
169.254.169.254), multicast, reserved or unspecified, nor IPv4 hidden in IPv6.

    address_is_public(address)              the rule for one address
    host_addresses_checked(host, port, policy=...)   one lookup, every address judged; the
                                            backends connect to exactly these
    url_host_check(url)                     the same up front, for a clear message when a
                                            tenant saves a URL (the guarantee is the backends')
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from .policy import PrivateAllowance

NOT_HTTP = "Use an http:// or https:// address."
NOT_RESOLVED = "This host name does not resolve."
NOT_PUBLIC = "This address is not on the public internet."


class UnsafeAddress(ValueError):
    """A destination refused by the rule. ``code`` is "bad_url", "dns" or "private_address";
    ``host`` is the name asked for and ``address`` the one that broke the rule, when known."""

    def __init__(self, message: str, *, code: str = "private_address", host: str = "", address: str = ""):
        super().__init__(message)
        self.code = code
        self.host = host
        self.address = address


def address_is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv4 carried inside IPv6 (mapped, 6to4, Teredo) is judged as the IPv4 it carries.
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            return address_is_public(str(embedded))
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_link_local)


def host_resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, in resolver order, each once; an IP literal is
    itself. One lookup; raises :class:`UnsafeAddress` ("dns") when there is no answer."""
    host = host.strip("[]").rstrip(".")
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise UnsafeAddress(NOT_RESOLVED, code="dns", host=host) from exc
    addresses: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UnsafeAddress(NOT_RESOLVED, code="dns", host=host)
    return addresses


def host_addresses_checked(host: str, port: int, *, policy: PrivateAllowance) -> list[str]:
    """Resolve ``host`` once and refuse unless every address passes the rule, or ``policy``
    allows this host and port to be private. The addresses returned are the ones to connect
    to: looking the name up again could answer differently (DNS rebinding)."""
    addresses = host_resolve(host, port)
    if policy.private_allowed(host, port):
        return addresses
    for address in addresses:
        if not address_is_public(address):
            raise UnsafeAddress(NOT_PUBLIC, code="private_address", host=host, address=address)
    return addresses


def url_host_check(url: str, *, allow_private: bool = False) -> None:
    """Raise :class:`UnsafeAddress` unless ``url`` is http(s) and its host resolves only to
    public addresses (``allow_private`` skips the address check, for development)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeAddress(NOT_HTTP, code="bad_url")
    try:
        port = parts.port or 443
    except ValueError as exc:
        raise UnsafeAddress("This is not a valid web address.", code="bad_url") from exc
    if allow_private:
        return
    for address in host_resolve(parts.hostname, port):
        if not address_is_public(address):
            raise UnsafeAddress(NOT_PUBLIC, code="private_address", host=parts.hostname, address=address)


def refusal_in(exc: BaseException | None) -> UnsafeAddress | None:
    """The :class:`UnsafeAddress` behind ``exc`` (itself, or a cause or context of it), if
    any: SDKs may wrap what a backend raised."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, UnsafeAddress):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None
