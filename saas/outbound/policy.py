"""Where the address rule is lifted: private addresses a caller may reach anyway.

A policy answers one question for a host and port about to be connected to: may its
addresses be private? Everything else (resolving once, connecting to what was checked)
stays the same whatever the answer.

    AddressPolicy(allow_private=..., allowlist=...)   fixed for one call (knowledge fetching)
    SettingsPolicy(allow_setting=..., allowlist_setting=...)   read from Django settings at
                                                        each connection (SDK clients live long)
    TENANT_ENDPOINTS   LLM and embedding servers a tenant names: LLM_ALLOW_PRIVATE_BASE_URLS
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings


class PrivateAllowance(Protocol):
    def private_allowed(self, host: str, port: int) -> bool:
        """Whether ``host`` (as connected to: IDNA, no brackets) on ``port`` may resolve to
        private addresses."""
        ...


def host_port(host: str, port: int) -> str:
    """The "host:port" of a URL, lower case ("[::1]:8123" for IPv6)."""
    host = host.strip("[]").rstrip(".").lower()
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _entries(values: Iterable[object]) -> frozenset[str]:
    return frozenset(str(value).strip().lower() for value in values if str(value).strip())


@dataclass(frozen=True)
class AddressPolicy:
    """``allow_private`` lifts the rule everywhere (development); ``allowlist`` names the
    "host:port" entries (as written in URLs, e.g. "127.0.0.1:8123", "[::1]:8123") that may be
    private while every other private address stays refused."""

    allow_private: bool = False
    allowlist: frozenset[str] = frozenset()

    def private_allowed(self, host: str, port: int) -> bool:
        return self.allow_private or host_port(host, port) in _entries(self.allowlist)


@dataclass(frozen=True)
class SettingsPolicy:
    """The same allowance read from settings when a connection is made, so a long-lived SDK
    client follows the settings in force (tests change them)."""

    allow_setting: str
    allowlist_setting: str = ""

    def private_allowed(self, host: str, port: int) -> bool:
        allowlist = getattr(settings, self.allowlist_setting, ()) if self.allowlist_setting else ()
        policy = AddressPolicy(
            allow_private=bool(getattr(settings, self.allow_setting, False)), allowlist=_entries(allowlist)
        )
        return policy.private_allowed(host, port)


TENANT_ENDPOINTS = SettingsPolicy(allow_setting="LLM_ALLOW_PRIVATE_BASE_URLS")
