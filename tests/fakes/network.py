"""Fake DNS answers and a record of every TCP connect, for tests of outbound calls
(``saas.outbound``). Nothing here reaches the internet: a "public" address is intercepted
before any socket opens.

    dns = FakeDNS().install(monkeypatch)
    dns.answer("rebind.test", ["93.184.216.34"], ["127.0.0.1"])  # one answer per lookup, last repeats
    connects = ConnectRecorder(intercept={"93.184.216.34"}).install(monkeypatch)
    ...
    assert dns.calls == ["rebind.test"] and connects.seen == [("93.184.216.34", 443)]

``ConnectRecorder`` patches httpcore2's own sync and anyio backends, beneath the pinned
backends: it sees the address a connection really goes to. Intercepted addresses fail at
once with ``httpcore2.ConnectError``; the others connect for real (local fake servers).
"""

from __future__ import annotations

import socket
from collections.abc import Collection
from typing import Any

import httpcore2
import pytest

# Global unicast addresses for tests that need a "public" answer; never connected to.
PUBLIC_V4 = "93.184.216.34"
PUBLIC_V6 = "2606:2800:220:1::1"


class FakeDNS:
    """``socket.getaddrinfo`` for chosen names; other names resolve for real."""

    def __init__(self) -> None:
        self.table: dict[str, list[list[str]]] = {}
        self.calls: list[str] = []

    def answer(self, name: str, *answers: list[str]) -> None:
        self.table[name] = list(answers)

    def lookups(self, name: str) -> int:
        return self.calls.count(name)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FakeDNS:
        real = socket.getaddrinfo

        def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            # anyio asks with the name as IDNA bytes, the standard library with a str.
            name = host.decode("ascii", "replace") if isinstance(host, bytes) else host
            if not (isinstance(name, str) and name in self.table):
                return real(host, port, *args, **kwargs)
            host = name
            answers = self.table[host]
            answer = answers[min(self.calls.count(host), len(answers) - 1)]
            self.calls.append(host)
            if not answer:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            port = int(port or 0)
            return [
                (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))
                if ":" in address
                else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))
                for address in answer
            ]

        monkeypatch.setattr(socket, "getaddrinfo", fake)
        return self


class ConnectRecorder:
    """Every (address, port) httpcore2 connects to, sync or async."""

    def __init__(self, intercept: Collection[str] = (PUBLIC_V4, PUBLIC_V6)) -> None:
        self.intercept = set(intercept)
        self.seen: list[tuple[str, int]] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> ConnectRecorder:
        real_sync = httpcore2.SyncBackend.connect_tcp
        real_async = httpcore2.AnyIOBackend.connect_tcp
        recorder = self

        def sync_connect(backend: Any, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
            recorder._note(host, port)
            return real_sync(backend, host, port, *args, **kwargs)

        async def async_connect(backend: Any, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
            recorder._note(host, port)
            return await real_async(backend, host, port, *args, **kwargs)

        monkeypatch.setattr(httpcore2.SyncBackend, "connect_tcp", sync_connect)
        monkeypatch.setattr(httpcore2.AnyIOBackend, "connect_tcp", async_connect)
        return self

    def _note(self, host: str, port: int) -> None:
        self.seen.append((host, port))
        if host in self.intercept:
            raise httpcore2.ConnectError(f"intercepted: a test never connects to {host}")

    def hosts(self) -> list[str]:
        return [host for host, _ in self.seen]
