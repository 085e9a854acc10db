"""The Anthropic and OpenAI providers against the fake provider server, through the real
SDKs: the deltas, the usage, every error classified as the SDKs' own streams would have it
(chat.llm.*_provider._error), and no SDK model built per event (the stream is read by
chat.llm.event_stream)."""

from __future__ import annotations

import asyncio
import concurrent.futures

import anthropic
import openai
import pytest

from chat.llm.anthropic_provider import AnthropicProvider
from chat.llm.anthropic_provider import _error as anthropic_error
from chat.llm.base import LLMRequest, ProviderError, Turn, Usage
from chat.llm.clients import loop_clients_close
from chat.llm.event_stream import sse_events
from chat.llm.openai_provider import OpenAIProvider
from chat.llm.openai_provider import _error as openai_error
from tests.fakes.llm_server import Behaviour

REQUEST = LLMRequest(
    system="SYSTEM-MARKER",
    turns=[Turn("user", "Where is my parcel?")],
    model="",
    max_tokens=300,
    temperature=0.2,
)
APIS = ["anthropic", "openai", "openai_compatible"]


@pytest.fixture
def llm(fake_llm_server):
    fake_llm_server.reset()
    yield fake_llm_server
    fake_llm_server.reset()


def _provider(api: str, llm, timeout: float = 5.0):
    if api == "anthropic":
        return AnthropicProvider(api_key="k", base_url=llm.url, timeout=timeout, tenant_named=False)
    return OpenAIProvider(
        api_key="k",
        base_url=llm.url + "/v1",
        timeout=timeout,
        compatible=api == "openai_compatible",
        tenant_named=False,
    )


def _in_fresh_loop(make_coroutine):
    """asyncio.run in a thread of its own (a browser test may leave a loop set on this one)."""

    async def run():
        try:
            return await make_coroutine()
        finally:
            await loop_clients_close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(run())).result()


def _answer(provider, times: int = 1):
    """[(deltas, usage, error)] for ``times`` calls in one loop."""

    async def run():
        results = []
        for _ in range(times):
            deltas, usage, error = [], Usage(), None
            try:
                async for delta in provider.stream(REQUEST, usage):
                    deltas.append(delta)
            except ProviderError as exc:
                error = exc
            results.append((deltas, usage, error))
        return results

    return _in_fresh_loop(run)


@pytest.mark.parametrize("api", APIS)
def test_deltas_and_usage_as_the_provider_sent_them(llm, api):
    llm.enqueue(Behaviour(chunks=["Parcels ", "ship ", "in ", "2 days."], input_tokens=42))
    [(deltas, usage, error)] = _answer(_provider(api, llm))
    assert error is None
    assert deltas == ["Parcels ", "ship ", "in ", "2 days."]
    assert (usage.input_tokens, usage.output_tokens, usage.finished) == (42, 4, True)
    [sent] = llm.requests
    assert sent.body["stream"] is True and "SYSTEM-MARKER" in sent.prompt_text
    if api == "openai":
        assert sent.body["max_completion_tokens"] == 300 and "max_tokens" not in sent.body
    if api == "openai_compatible":
        assert sent.body["max_tokens"] == 300 and "max_completion_tokens" not in sent.body


@pytest.mark.parametrize("api", APIS)
def test_no_sdk_model_is_built_per_event(llm, api, monkeypatch):
    def no_models(*args, **kwargs):
        raise AssertionError("an SDK model was built for a stream event")

    monkeypatch.setattr(anthropic.AsyncAnthropic, "_process_response_data", no_models)
    monkeypatch.setattr(openai.AsyncOpenAI, "_process_response_data", no_models)
    llm.enqueue(Behaviour(chunks=["One ", "two."]))
    [(deltas, usage, error)] = _answer(_provider(api, llm))
    assert error is None and deltas == ["One ", "two."] and usage.finished


@pytest.mark.parametrize("api", APIS)
def test_answers_in_a_row_reuse_one_connection(llm, api):
    results = _answer(_provider(api, llm), times=3)
    assert all(error is None and usage.finished for _, usage, error in results)
    assert llm.connections_opened == 1


ERRORS = [
    # (api, behaviour, kind, retry_after)
    ("anthropic", Behaviour(status=429, error_type="rate_limit_error", retry_after=3), "rate_limited", 3.0),
    ("anthropic", Behaviour(status=529, error_type="overloaded_error"), "overloaded", None),
    ("anthropic", Behaviour(status=402, error_type="billing_error"), "spend_limit", None),
    ("anthropic", Behaviour(status=401), "auth", None),
    ("anthropic", Behaviour(status=500, error_type="api_error"), "server", None),
    ("anthropic", Behaviour(status=400), "bad_request", None),
    ("anthropic", Behaviour(hang=2), "timeout", None),
    ("openai", Behaviour(status=429, error_type="insufficient_quota"), "spend_limit", None),
    ("openai", Behaviour(status=429, error_type="rate_limit_exceeded", retry_after=2), "rate_limited", 2.0),
    ("openai", Behaviour(status=503), "overloaded", None),
    ("openai", Behaviour(status=401), "auth", None),
    ("openai_compatible", Behaviour(status=500), "server", None),
    ("openai_compatible", Behaviour(hang=2), "timeout", None),
]


@pytest.mark.parametrize(("api", "behaviour", "kind", "retry_after"), ERRORS)
def test_error_answers_are_classified(llm, api, behaviour, kind, retry_after):
    llm.enqueue(behaviour)
    [(deltas, usage, error)] = _answer(_provider(api, llm, timeout=0.5))
    assert deltas == [] and not usage.finished
    assert error is not None and error.kind == kind and error.retry_after == retry_after


def _sdk_stream_error(api: str, llm, behaviour: Behaviour) -> tuple[list[str], ProviderError]:
    """What the SDK's own stream (a pydantic model per event) gave for ``behaviour``: the
    texts before the failure and the failure through the provider's ``_error``."""
    texts: list[str] = []

    async def run():
        if api == "anthropic":
            client = anthropic.AsyncAnthropic(api_key="k", base_url=llm.url, max_retries=0)
            try:
                stream = await client.messages.create(
                    model="m", max_tokens=300, messages=[{"role": "user", "content": "Hi"}], stream=True
                )
                async for event in stream:
                    if event.type == "content_block_delta":
                        texts.append(event.delta.text)
            except anthropic.APIError as exc:
                return anthropic_error(exc)
            finally:
                await client.close()
        else:
            gpt = openai.AsyncOpenAI(api_key="k", base_url=llm.url + "/v1", max_retries=0)
            try:
                chunks = await gpt.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": "Hi"}], stream=True
                )
                async for chunk in chunks:
                    texts.extend(c.delta.content for c in chunk.choices if c.delta and c.delta.content)
            except openai.APIError as exc:
                return openai_error(exc)
            finally:
                await gpt.close()
        raise AssertionError("the SDK's stream did not fail")

    llm.enqueue(behaviour)
    return texts, _in_fresh_loop(run)


STREAM_FAULTS = {
    "anthropic overloaded in the stream": (
        "anthropic",
        Behaviour(chunks=["a ", "b ", "c"], stream_error="overloaded_error", stream_error_after=2),
        "overloaded",
    ),
    "anthropic api error in the stream": (
        "anthropic",
        Behaviour(chunks=["a ", "b"], stream_error="api_error", stream_error_after=1),
        "bad_request",  # a status of 200 and no other clue, as the SDK's exception says
    ),
    "openai error in the stream": (
        "openai",
        Behaviour(chunks=["a ", "b ", "c"], stream_error="server_error", stream_error_after=2),
        "connection",
    ),
    "anthropic stream cut": ("anthropic", Behaviour(chunks=["a ", "b ", "c"], cut_after=2), "stream_cut"),
    "openai stream cut": ("openai", Behaviour(chunks=["a ", "b ", "c"], cut_after=2), "connection"),
}


@pytest.mark.parametrize("fault", STREAM_FAULTS, ids=list(STREAM_FAULTS))
def test_a_stream_failing_midway_is_classified_as_the_sdk_classified_it(llm, fault):
    api, behaviour, kind = STREAM_FAULTS[fault]
    if "cut" not in fault:  # a cut surfaces from the SDK as httpx2's own error: not comparable
        sdk_texts, sdk_error = _sdk_stream_error(api, llm, behaviour)
        assert sdk_error.kind == kind and sdk_texts == ["a ", "b ", "c"][: behaviour.stream_error_after]
    llm.enqueue(behaviour)
    [(deltas, usage, error)] = _answer(_provider(api, llm))
    assert error is not None and error.kind == kind
    assert deltas == ["a ", "b ", "c"][: behaviour.stream_error_after or behaviour.cut_after]
    assert not usage.finished


def _decoded(*chunks: bytes) -> list[tuple[str, str]]:
    async def feed():
        for chunk in chunks:
            yield chunk

    async def run():
        return [event async for event in sse_events(feed())]

    return asyncio.run(run())


def test_event_stream_decoding():
    # Events split anywhere (even inside a CRLF), comments and unknown fields, data lines.
    assert _decoded(
        b"event: a\r", b"\ndata: 1\r\n\r\n: comment\nid: 7\ndata:x\ndata:  y\n", b"\nretry: 5\n\n"
    ) == [
        ("a", "1"),
        ("", "x\n y"),
    ]
    assert _decoded(b'data: {"t": 1}\r\rdata: 2\n\n') == [("", '{"t": 1}'), ("", "2")]
    assert _decoded(b"event: ping\ndata: {}\n\nevent: message_stop\ndata: {}") == [("ping", "{}")]
    assert _decoded(b"event: done\n\n", b"data: last\r\r") == [("done", ""), ("", "last")]
