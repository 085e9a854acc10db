"""saas.outbound: the address rule, where it is lifted, and the pinned backends and
transports that connect only to the addresses they checked.

A local fake server on 127.0.0.1 stands for everything that must stay unreachable unless a
policy allows it; "public" answers (tests.fakes.network.PUBLIC_V4) are intercepted before
any socket opens, so nothing here needs the internet.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time

import httpcore2
import httpx2
import pytest

from saas.outbound import (
    TENANT_ENDPOINTS,
    AddressPolicy,
    GuardedAsyncTransport,
    GuardedTransport,
    PinnedAsyncBackend,
    PinnedSyncBackend,
    SettingsPolicy,
    UnsafeAddress,
    address_is_public,
    host_addresses_checked,
    refusal_in,
    url_host_check,
)
from tests.fakes.llm_server import FakeLLMServer
from tests.fakes.network import PUBLIC_V4, PUBLIC_V6, ConnectRecorder, FakeDNS

EMBED = {"model": "m", "input": "hello", "encoding_format": "float"}


def run(make_coroutine):
    """asyncio.run in a thread of its own (a browser test may leave a loop set on this one)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make_coroutine())).result()


@pytest.fixture(scope="module")
def server():
    with FakeLLMServer() as fake:
        yield fake


@pytest.fixture
def local(server):
    """The local server, which nothing may reach unless the test allows it."""
    server.reset()
    yield server
    server.reset()


@pytest.fixture
def dns(monkeypatch):
    return FakeDNS().install(monkeypatch)


@pytest.fixture
def connects(monkeypatch):
    return ConnectRecorder().install(monkeypatch)


def port_of(server: FakeLLMServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


# --- the address rule and its allowances ------------------------------------------------------


def test_every_address_of_a_name_must_be_public(dns):
    dns.answer("public.test", [PUBLIC_V4, PUBLIC_V6])
    dns.answer("mixed.test", [PUBLIC_V4, "10.0.0.7"])
    assert host_addresses_checked("public.test", 443, policy=AddressPolicy()) == [PUBLIC_V4, PUBLIC_V6]
    with pytest.raises(UnsafeAddress, match="not on the public internet") as refused:
        host_addresses_checked("mixed.test", 443, policy=AddressPolicy())
    assert (refused.value.code, refused.value.host, refused.value.address) == (
        "private_address",
        "mixed.test",
        "10.0.0.7",
    )
    assert dns.calls == ["public.test", "mixed.test"]  # one lookup each


def test_an_ip_literal_is_judged_without_a_lookup(dns):
    for literal in ("127.0.0.1", "[::1]", "169.254.169.254", "::ffff:10.0.0.1"):
        with pytest.raises(UnsafeAddress):
            host_addresses_checked(literal, 80, policy=AddressPolicy())
    assert host_addresses_checked(PUBLIC_V4, 80, policy=AddressPolicy()) == [PUBLIC_V4]
    assert dns.calls == []


def test_a_name_that_does_not_resolve(dns):
    dns.answer("nowhere.test", [])
    with pytest.raises(UnsafeAddress, match="does not resolve") as refused:
        host_addresses_checked("nowhere.test", 443, policy=AddressPolicy())
    assert refused.value.code == "dns"


def test_allowances_open_only_what_they_name(dns):
    dns.answer("dev.test", ["127.0.0.1"])
    assert host_addresses_checked("dev.test", 80, policy=AddressPolicy(allow_private=True)) == ["127.0.0.1"]
    listed = AddressPolicy(allowlist=frozenset({"Dev.test:8123", "[::1]:8123"}))
    assert host_addresses_checked("dev.test.", 8123, policy=listed) == ["127.0.0.1"]
    assert host_addresses_checked("::1", 8123, policy=listed) == ["::1"]
    for host, port in (("dev.test", 8124), ("127.0.0.1", 8123), ("::1", 8124)):
        with pytest.raises(UnsafeAddress):
            host_addresses_checked(host, port, policy=listed)


def test_settings_policy_follows_the_settings_in_force(settings):
    settings.LLM_ALLOW_PRIVATE_BASE_URLS = False
    assert TENANT_ENDPOINTS.private_allowed("127.0.0.1", 80) is False
    settings.LLM_ALLOW_PRIVATE_BASE_URLS = True
    assert TENANT_ENDPOINTS.private_allowed("127.0.0.1", 80) is True
    settings.KNOWLEDGE_FETCH_ALLOW_PRIVATE = False
    settings.KNOWLEDGE_FETCH_PRIVATE_ALLOWLIST = ["Site.test:8080"]
    fetching = SettingsPolicy("KNOWLEDGE_FETCH_ALLOW_PRIVATE", "KNOWLEDGE_FETCH_PRIVATE_ALLOWLIST")
    assert fetching.private_allowed("site.test", 8080) and not fetching.private_allowed("site.test", 80)


def test_url_host_check_refuses_bad_shapes_without_raising_anything_else():
    for url in ("ftp://example.com/", "http:///x", "http://example.com:99999/"):
        with pytest.raises(UnsafeAddress) as refused:
            url_host_check(url)
        assert refused.value.code == "bad_url"


def test_refusal_in_finds_the_refusal_behind_wrappers():
    refusal = UnsafeAddress("This address is not on the public internet.")
    try:
        try:
            raise refusal
        except UnsafeAddress as exc:
            raise httpx2.ConnectError("wrapped") from exc
    except httpx2.ConnectError as wrapped:
        assert refusal_in(wrapped) is refusal
    assert refusal_in(ValueError("other")) is None


# --- the sync backend and transport -------------------------------------------------------------


def test_sync_rebinding_cannot_move_the_connection(local, dns, connects):
    # The first answer is public, every later one loopback: the connection goes where the
    # first answer said, because nothing looks the name up a second time.
    dns.answer("rebind.test", [PUBLIC_V4], ["127.0.0.1"])
    port = port_of(local)
    with (
        httpx2.Client(transport=GuardedTransport(AddressPolicy())) as client,
        pytest.raises(httpx2.ConnectError, match="intercepted"),
    ):
        client.post(f"http://rebind.test:{port}/v1/embeddings", json=EMBED)
    assert dns.calls == ["rebind.test"]
    assert connects.seen == [(PUBLIC_V4, port)]
    assert local.connections_opened == 0 and local.requests == []


def test_sync_a_private_answer_is_refused_before_connecting(local, dns, connects):
    dns.answer("inside.test", ["127.0.0.1"])
    with httpx2.Client(transport=GuardedTransport(AddressPolicy())) as client:
        with pytest.raises(UnsafeAddress, match="not on the public internet"):
            client.post(f"http://inside.test:{port_of(local)}/v1/embeddings", json=EMBED)
        with pytest.raises(UnsafeAddress):
            client.post(local.url + "/v1/embeddings", json=EMBED)  # the literal address, too
    assert connects.seen == [] and local.connections_opened == 0


def test_sync_allowed_private_server_keeps_the_host_name_and_one_lookup_per_connection(local, dns, connects):
    dns.answer("named.test", ["127.0.0.1"], ["10.9.9.9"])
    port = port_of(local)
    transport = GuardedTransport(AddressPolicy(allowlist=frozenset({f"named.test:{port}"})))
    with httpx2.Client(transport=transport) as client:
        for _ in range(2):
            assert client.post(f"http://named.test:{port}/v1/embeddings", json=EMBED).status_code == 200
    assert local.requests[-1].headers["host"] == f"named.test:{port}"
    assert dns.calls == ["named.test"] and local.connections_opened == 1  # kept alive, not re-resolved
    assert connects.seen == [("127.0.0.1", port)] and transport.backend.connected_to == "127.0.0.1"


def test_sync_deadline_bounds_the_connection(dns, connects):
    dns.answer("late.test", [PUBLIC_V4])
    backend = PinnedSyncBackend(AddressPolicy(), deadline=time.monotonic() - 1)
    with pytest.raises(httpcore2.ConnectTimeout):
        backend.connect_tcp("late.test", 443)
    assert connects.seen == []


def test_unix_sockets_are_refused():
    with pytest.raises(UnsafeAddress):
        PinnedSyncBackend(AddressPolicy(allow_private=True)).connect_unix_socket("/run/docker.sock")
    with pytest.raises(UnsafeAddress):
        run(lambda: PinnedAsyncBackend(AddressPolicy(allow_private=True)).connect_unix_socket("/x.sock"))


# --- the async backend and transport ------------------------------------------------------------


async def _post(transport: GuardedAsyncTransport, url: str, times: int = 1) -> list[int]:
    async with httpx2.AsyncClient(transport=transport) as client:
        return [(await client.post(url, json=EMBED)).status_code for _ in range(times)]


def test_async_rebinding_cannot_move_the_connection(local, dns, connects):
    dns.answer("rebind.test", [PUBLIC_V4], ["127.0.0.1"])
    port = port_of(local)
    with pytest.raises(httpx2.ConnectError, match="intercepted"):
        run(lambda: _post(GuardedAsyncTransport(AddressPolicy()), f"http://rebind.test:{port}/v1/embeddings"))
    assert dns.calls == ["rebind.test"]
    assert connects.seen == [(PUBLIC_V4, port)]
    assert local.connections_opened == 0 and local.requests == []


def test_async_a_private_answer_is_refused_before_connecting(local, dns, connects):
    dns.answer("inside.test", [PUBLIC_V4, "127.0.0.1"])
    with pytest.raises(UnsafeAddress, match="not on the public internet"):
        run(lambda: _post(GuardedAsyncTransport(AddressPolicy()), f"http://inside.test:{port_of(local)}/"))
    assert connects.seen == [] and local.connections_opened == 0


def test_async_policy_read_at_each_connection(local, dns, connects, settings):
    dns.answer("dev.test", ["127.0.0.1"])
    url = f"http://dev.test:{port_of(local)}/v1/embeddings"
    settings.LLM_ALLOW_PRIVATE_BASE_URLS = True
    assert run(lambda: _post(GuardedAsyncTransport(TENANT_ENDPOINTS), url, times=2)) == [200, 200]
    assert dns.calls == ["dev.test"] and local.connections_opened == 1
    assert local.requests[-1].headers["host"] == f"dev.test:{port_of(local)}"
    settings.LLM_ALLOW_PRIVATE_BASE_URLS = False
    with pytest.raises(UnsafeAddress):
        run(lambda: _post(GuardedAsyncTransport(TENANT_ENDPOINTS), url))
    assert local.connections_opened == 1


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "169.254.169.254",
        "::ffff:169.254.169.254",
        "2002:a9fe:a9fe::1",
        "fd00::1",
        "::1",
    ],
)
def test_private_addresses_are_refused_however_they_are_written(address):
    assert address_is_public(address) is False


def test_public_addresses_pass():
    assert address_is_public("93.184.216.34") and address_is_public("2606:2800:220:1::1")
