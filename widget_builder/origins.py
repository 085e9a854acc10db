"""Which web origins may run a widget. Entries are exact origins (``https://shop.example``,
``http://localhost:3000``) or wildcards over subdomains (``https://*.example.com``, which
matches ``https://a.example.com`` and deeper, not ``https://example.com``). An empty list
means any origin (the dashboard warns about it)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

_HOST_RE = re.compile(r"^(\*\.)?([a-z0-9-]+\.)*[a-z0-9-]+$")
DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_normalize(value: str) -> str:
    """``scheme://host[:port]`` in lower case, default port dropped; ValidationError if not."""
    raw = (value or "").strip().rstrip("/")
    if "://" not in raw:
        raw = "https://" + raw
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise ValidationError(f"“{value}” is not an origin.", code="invalid_origin") from exc
    host = (parts.hostname or "").lower()
    if parts.scheme not in DEFAULT_PORTS or not host or parts.path or parts.query or parts.fragment:
        raise ValidationError(
            f"“{value}” is not an origin: use scheme and host only, like https://www.example.com.",
            code="invalid_origin",
        )
    if not _HOST_RE.match(host) or host == "*":
        raise ValidationError(f"“{value}” has an invalid host name.", code="invalid_origin")
    suffix = f":{port}" if port and port != DEFAULT_PORTS[parts.scheme] else ""
    return f"{parts.scheme}://{host}{suffix}"


def origin_allowed(origin: str | None, allowed: list[str]) -> bool:
    if not allowed:
        return True
    if not origin:
        return False
    try:
        origin = origin_normalize(origin)
    except ValidationError:
        return False
    if "*" in origin:
        return False
    scheme, _, rest = origin.partition("://")
    for pattern in allowed:
        if pattern == origin:
            return True
        p_scheme, _, p_rest = pattern.partition("://")
        if p_rest.startswith("*.") and p_scheme == scheme:
            p_host_port = p_rest[2:]
            if rest.endswith("." + p_host_port):
                return True
    return False
