"""The address rule: refusing server-side requests to places a tenant must not reach (SSRF).

Tenants give us URLs we call from inside our network: OpenAI-compatible servers now, pages
to ingest later. Each host is resolved first and every address it resolves to must be a
public unicast address: never loopback, private, link-local (cloud metadata lives at
169.254.169.254), multicast, reserved or unspecified.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


class UnsafeAddress(ValueError):
    pass


def address_is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv4 carried inside IPv6 (mapped, 6to4, Teredo) is judged as the IPv4 it carries.
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            return address_is_public(str(embedded))
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_link_local)


def url_host_check(url: str, *, allow_private: bool = False) -> None:
    """Raise :class:`UnsafeAddress` unless ``url`` is http(s) and its host resolves only to
    public addresses (``allow_private`` skips the address check, for development)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeAddress("Use an http:// or https:// address.")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeAddress("This host name does not resolve.") from exc
    if not infos or not all(address_is_public(info[4][0]) for info in infos):
        raise UnsafeAddress("This address is not on the public internet.")
