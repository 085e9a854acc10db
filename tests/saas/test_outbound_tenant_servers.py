"""Tenants' LLM and embedding servers are only ever connected to through saas.outbound's
guarded transport, with the real SDKs: DNS rebinding cannot reach loopback, redirects are
not followed, and the operator's own endpoints keep the SDKs' usual transport.

The fake LLM server on 127.0.0.1 stands for what a rebinding name would reach: it must see
no connection at all. "Public" answers are intercepted before any socket opens.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import http.server
import threading
from collections import OrderedDict
from types import SimpleNamespace

import pytest

import knowledge.embeddings as embeddings
from chat.llm.anthropic_provider import AnthropicProvider
from chat.llm.base import LLMRequest, ProviderError, Turn, Usage
from chat.llm.openai_provider import OpenAIProvider
from chat.llm.registry import provider_for
from chat.llm.resilience import breakers_reset, stream_resilient
from knowledge.embeddings import EmbeddingError, embedder_for
from knowledge.embeddings import remote as remote_embeddings
from saas.crypto import secret_encrypt
from saas.outbound import GuardedAsyncTransport, GuardedTransport
from saas.outbound.sdk import loop_clients_close, openai_async_client
from tests.fakes.llm_server import FakeLLMServer
from tests.fakes.network import PUBLIC_V4, ConnectRecorder, FakeDNS

KEY = "sk-tenant-key-0123456789"
REQUEST = LLMRequest(
    system="You are a bot.", turns=[Turn("user", "Hi")], model="llama3", max_tokens=50, temperature=0.2
)


def run(make_coroutine):
    """asyncio.run in a thread of its own (a browser test may leave a loop set on this one)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make_coroutine())).result()


@pytest.fixture(scope="module")
def server():
    with FakeLLMServer() as fake:
        yield fake


@pytest.fixture
def llm(server, monkeypatch):
    server.reset()
    monkeypatch.setattr(embeddings, "_cache", OrderedDict())
    breakers_reset()
    yield server
    server.reset()
    breakers_reset()


@pytest.fixture
def dns(monkeypatch):
    return FakeDNS().install(monkeypatch)


@pytest.fixture
def connects(monkeypatch):
    return ConnectRecorder().install(monkeypatch)


def port_of(server: FakeLLMServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


def tenant_bot(base_url: str) -> SimpleNamespace:
    return SimpleNamespace(
        provider="openai_compatible",
        key_source="own",
        model="llama3",
        base_url=base_url,
        api_key_encrypted=secret_encrypt(KEY),
    )


async def answer(provider, *, resilient: bool = False) -> str:
    usage = Usage()
    stream = stream_resilient(provider, REQUEST, usage) if resilient else provider.stream(REQUEST, usage)
    try:
        return "".join([delta async for delta in stream])
    finally:
        await loop_clients_close()


# --- DNS rebinding ------------------------------------------------------------------------------


def test_a_tenant_llm_server_rebinding_to_loopback_is_never_connected(llm, dns, connects, settings):
    settings.LLM_ALLOW_PRIVATE_BASE_URLS = False
    dns.answer("llm.rebind.test", [PUBLIC_V4], ["127.0.0.1"])  # public when checked, loopback after
    choice = provider_for(tenant_bot(f"http://llm.rebind.test:{port_of(llm)}/v1"))
    assert dns.lookups("llm.rebind.test") == 1  # the up-front check saw a public address

    with pytest.raises(ProviderError) as failed:
        run(lambda: answer(choice.provider, resilient=True))

    assert failed.value.kind == "misconfigured"  # a clean, final failure: not retried
    assert str(failed.value) == "This address is not on the public internet."
    assert dns.lookups("llm.rebind.test") == 2  # the transport's own lookup, and no other
    assert connects.seen == []  # nothing connected, loopback least of all
    assert llm.connections_opened == 0 and llm.requests == []


def test_a_tenant_llm_server_is_connected_at_the_address_its_lookup_gave(llm, dns, connects, settings):
    settings.LLM_ALLOW_PRIVATE_BASE_URLS = False
    dns.answer("llm.rebind.test", [PUBLIC_V4], [PUBLIC_V4], ["127.0.0.1"])
    port = port_of(llm)
    choice = provider_for(tenant_bot(f"http://llm.rebind.test:{port}/v1"))

    with pytest.raises(ProviderError) as failed:
        run(lambda: answer(choice.provider))

    assert failed.value.kind == "connection"  # the public stand-in does not answer
    assert connects.seen == [(PUBLIC_V4, port)]  # the checked address, never a name resolved again
    assert dns.lookups("llm.rebind.test") == 2
    assert llm.connections_opened == 0 and llm.requests == []


def test_a_tenant_embedding_server_rebinding_to_loopback_is_never_connected(llm, dns, connects, settings):
    settings.LLM_ALLOW_PRIVATE_BASE_URLS = False
    dns.answer("embed.rebind.test", [PUBLIC_V4], ["127.0.0.1"])
    url = f"http://embed.rebind.test:{port_of(llm)}/v1"
    embedder = embedder_for("openai_compatible", "m", api_key=KEY, base_url=url, dimensions=384)
    assert dns.lookups("embed.rebind.test") == 1

    with pytest.raises(EmbeddingError) as failed:
        embedder.embed_query("a")

    message = str(failed.value)
    assert message == "The embedding server address is refused: This address is not on the public internet."
    assert KEY not in message
    assert dns.lookups("embed.rebind.test") == 2  # the SDK's retries never ran: a refusal is final
    assert connects.seen == []
    assert llm.connections_opened == 0 and llm.requests == []


def test_a_tenant_embedding_server_is_connected_at_the_address_its_lookup_gave(
    llm, dns, connects, settings, monkeypatch
):
    settings.LLM_ALLOW_PRIVATE_BASE_URLS = False
    monkeypatch.setattr(remote_embeddings, "MAX_RETRIES", 0)  # one attempt, no SDK backoff
    dns.answer("embed.rebind.test", [PUBLIC_V4], [PUBLIC_V4], ["127.0.0.1"])
    port = port_of(llm)
    url = f"http://embed.rebind.test:{port}/v1"
    embedder = embedder_for("openai_compatible", "m", api_key=KEY, base_url=url, dimensions=384)

    with pytest.raises(EmbeddingError, match="could not be reached"):
        embedder.embed_query("a")

    assert connects.seen == [(PUBLIC_V4, port)]
    assert dns.lookups("embed.rebind.test") == 2
    assert llm.connections_opened == 0 and llm.requests == []


# --- redirects ----------------------------------------------------------------------------------


@pytest.fixture
def redirector(llm):
    """A tenant's server that answers every POST with a 307 (method and body kept) to the
    fake LLM server."""

    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.send_response(307)
            self.send_header("Location", llm.url + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect) as httpd:
        thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
        finally:
            httpd.shutdown()
            thread.join(timeout=5)


def test_a_redirect_from_a_tenant_llm_server_is_not_followed(llm, redirector, settings):
    settings.LLM_ALLOW_PRIVATE_BASE_URLS = True  # the tenant's server is local in this test
    choice = provider_for(tenant_bot(redirector))
    with pytest.raises(ProviderError) as failed:
        run(lambda: answer(choice.provider))
    assert (failed.value.kind, failed.value.status) == ("bad_request", 307)
    assert llm.connections_opened == 0 and llm.requests == []


def test_a_redirect_from_a_tenant_embedding_server_is_not_followed(llm, redirector, settings):
    settings.LLM_ALLOW_PRIVATE_BASE_URLS = True
    embedder = embedder_for("openai_compatible", "m", api_key=KEY, base_url=redirector, dimensions=384)
    with pytest.raises(EmbeddingError, match=r"redirect \(HTTP 307\), which is not followed"):
        embedder.embed_query("a")
    assert llm.connections_opened == 0 and llm.requests == []


# --- the SDK clients ----------------------------------------------------------------------------


def test_only_tenant_servers_get_the_guarded_transport(llm, settings):
    settings.ANTHROPIC_API_KEY = "sk-platform-anthropic"
    settings.LLM_BASE_URL, settings.LLM_API_KEY = "http://llm.platform.internal:8000/v1", "k"
    platform_bot = SimpleNamespace(
        provider="platform", key_source="platform", model="", base_url="", api_key_encrypted=""
    )
    anthropic_bot = SimpleNamespace(**{**vars(platform_bot), "provider": "anthropic"})
    settings.LLM_PROVIDER = "openai_compatible"
    providers = {
        "tenant": provider_for(tenant_bot("https://llm.example.com/v1")).provider,
        "platform compatible": provider_for(platform_bot).provider,
        "anthropic": provider_for(anthropic_bot).provider,
    }

    async def transports():
        try:
            clients = {name: provider._client() for name, provider in providers.items()}
            assert all(c._client.follow_redirects is False and c.max_retries == 0 for c in clients.values())
            return {name: type(client._client._transport) for name, client in clients.items()}
        finally:
            await loop_clients_close()

    kinds = run(transports)
    assert kinds["tenant"] is GuardedAsyncTransport
    assert kinds["platform compatible"] is not GuardedAsyncTransport
    assert kinds["anthropic"] is not GuardedAsyncTransport

    settings.OPENAI_BASE_URL = llm.url + "/v1"
    tenant = embedder_for("openai_compatible", "m", api_key=KEY, base_url="https://e.example.com/v1")._sdk()
    operator = embedder_for("openai", api_key=KEY)._sdk()
    assert isinstance(tenant._client._transport, GuardedTransport)
    assert not isinstance(operator._client._transport, GuardedTransport)
    assert tenant._client.follow_redirects is False and operator._client.follow_redirects is False
    assert tenant.max_retries == operator.max_retries == remote_embeddings.MAX_RETRIES


def test_async_clients_are_kept_per_event_loop_and_closed_with_it():
    def args(key: str) -> dict:
        return {"api_key": key, "base_url": "https://llm.example.com/v1", "timeout": 5, "tenant_named": True}

    async def one_loop():
        first, again, other = (openai_async_client(**args(k)) for k in ("a", "a", "b"))
        assert first is again and first is not other
        await loop_clients_close()
        assert first.is_closed() and other.is_closed()
        return first

    assert run(one_loop) is not run(one_loop)


def test_provider_clients_never_follow_redirects(settings):
    async def clients():
        return [
            OpenAIProvider(api_key="k", base_url="https://llm.example.com/v1", compatible=True)._client(),
            AnthropicProvider(api_key="k")._client(),
        ]

    for sdk_client in run(clients):
        assert sdk_client._client.follow_redirects is False
