"""The fake LLM server (tests/fakes/llm_server.py) driven by the REAL anthropic and openai SDKs.

These pin down what the SDKs make of the fake's wire data, which is what our code will see:
event types, usage, exception classes and their attributes. No database, no Django.
"""

from __future__ import annotations

import asyncio
import http.client
import threading
import time

import anthropic
import httpx2
import openai
import pytest

from tests.fakes.llm_server import Behaviour, FakeLLMServer

SYSTEM = "SYSTEM-MARKER: you are a helpful bot"
QUESTION = "USER-MARKER: what are your opening hours?"
ANTHROPIC_ARGS = {
    "model": "claude-fake",
    "max_tokens": 200,
    "system": SYSTEM,
    "messages": [{"role": "user", "content": QUESTION}],
}
OPENAI_ARGS = {
    "model": "gpt-fake",
    "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}],
}


def _run_in_fresh_loop(make_coroutine):
    """asyncio.run in a thread of its own (a browser test may leave a loop set on this one)."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make_coroutine())).result()


@pytest.fixture(scope="module")
def server():
    with FakeLLMServer() as llm:
        yield llm


@pytest.fixture
def llm(server):
    server.reset()
    yield server
    server.reset()


def claude(llm: FakeLLMServer, **options) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=llm.url, api_key="test-key", max_retries=0, **options)


def gpt(llm: FakeLLMServer, **options) -> openai.OpenAI:
    return openai.OpenAI(base_url=llm.url + "/v1", api_key="test-key", max_retries=0, **options)


def test_anthropic_sync_stream_events_usage_and_recording(llm):
    llm.enqueue(Behaviour(text="Open nine to five.", input_tokens=42))
    with claude(llm) as client:
        events = list(client.messages.create(**ANTHROPIC_ARGS, stream=True))

    # The SDK drops "ping"; everything else arrives as typed Raw*Event objects.
    assert [e.type for e in events] == [
        "message_start",
        "content_block_start",
        *["content_block_delta"] * 4,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert "".join(e.delta.text for e in events if e.type == "content_block_delta") == "Open nine to five."
    # Usage is split: input_tokens on message_start, the final output_tokens on message_delta.
    assert events[0].message.model == "claude-fake"
    assert events[0].message.usage.input_tokens == 42
    assert events[-2].usage.output_tokens == 4
    assert events[-2].delta.stop_reason == "end_turn"

    [request] = llm.requests
    assert request.api == "anthropic"
    assert request.path == "/v1/messages"
    # This SDK version sends the API key as a bearer token (not x-api-key), plus anthropic-version.
    assert request.headers["authorization"] == "Bearer test-key"
    assert "anthropic-version" in request.headers
    assert request.body["stream"] is True
    assert "SYSTEM-MARKER" in request.prompt_text
    assert "USER-MARKER" in request.prompt_text


def test_anthropic_stream_helper_and_max_tokens(llm):
    with claude(llm) as client:
        with client.messages.stream(**ANTHROPIC_ARGS) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()  # the helper accumulates usage from both events
        assert text == f"You asked: {QUESTION}. This is the fake model answering."
        assert final.usage.output_tokens == len(text.split())
        assert final.usage.input_tokens == len(llm.requests[0].prompt_text) // 4 + 1
        assert stream.request_id.startswith("req_")

        # max_tokens counts chunks; a non-streamed reply is a plain Message.
        message = client.messages.create(**{**ANTHROPIC_ARGS, "max_tokens": 2})
    assert message.content[0].text == "You asked: "
    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == 2


def test_anthropic_async_stream(llm):
    llm.enqueue(Behaviour(chunks=["Hel", "lo"]), Behaviour(text="Again"))

    async def run():
        async with anthropic.AsyncAnthropic(base_url=llm.url, api_key="k", max_retries=0) as client:
            async with client.messages.stream(**ANTHROPIC_ARGS) as stream:
                pieces = [piece async for piece in stream.text_stream]
            raw = await client.messages.create(**ANTHROPIC_ARGS, stream=True)
            events = [event async for event in raw]
            return pieces, events

    pieces, events = _run_in_fresh_loop(run)
    assert pieces == ["Hel", "lo"]
    assert [e.delta.text for e in events if e.type == "content_block_delta"] == ["Again"]
    assert len(llm.requests) == 2


def test_openai_sync_stream_with_usage(llm):
    llm.enqueue(Behaviour(text="Open nine to five.", input_tokens=42))
    with gpt(llm) as client:
        stream = client.chat.completions.create(
            **OPENAI_ARGS, stream=True, stream_options={"include_usage": True}
        )
        chunks = list(stream)  # the SDK stops at "data: [DONE]" and never yields it

    # First chunk: role only (content ""); then text; then finish_reason; then usage with choices [].
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].choices[0].delta.content == ""
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Open nine to five."
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    usage = chunks[-1].usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (42, 4, 46)
    assert all(c.usage is None for c in chunks[:-1])
    assert {c.id for c in chunks} == {chunks[0].id}

    [request] = llm.requests
    assert request.api == "openai"
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer test-key"
    assert "SYSTEM-MARKER" in request.prompt_text
    assert "USER-MARKER" in request.prompt_text


def test_openai_async_stream_and_length_limit(llm):
    async def run():
        async with openai.AsyncOpenAI(base_url=llm.url + "/v1", api_key="k", max_retries=0) as client:
            stream = await client.chat.completions.create(
                **OPENAI_ARGS, stream=True, stream_options={"include_usage": True}, max_completion_tokens=3
            )
            chunks = [chunk async for chunk in stream]
            completion = await client.chat.completions.create(**OPENAI_ARGS, max_tokens=2)
            return chunks, completion

    chunks, completion = _run_in_fresh_loop(run)
    assert (
        "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "You asked: USER-MARKER: "
    )
    assert chunks[-2].choices[0].finish_reason == "length"
    assert chunks[-1].usage.completion_tokens == 3
    assert completion.choices[0].message.content == "You asked: "
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.completion_tokens == 2


def test_anthropic_errors(llm):
    llm.enqueue(
        Behaviour(status=429, retry_after=7),
        Behaviour(status=529, error_type="overloaded_error"),
        Behaviour(error_type="billing_error"),  # status follows from the type: 402
    )
    with claude(llm) as client:
        with pytest.raises(anthropic.RateLimitError) as rate_limited:
            client.messages.create(**ANTHROPIC_ARGS, stream=True)  # raised by create(), before any event
        with pytest.raises(anthropic.OverloadedError) as overloaded:
            client.messages.create(**ANTHROPIC_ARGS)
        with pytest.raises(anthropic.APIStatusError) as billing:
            client.messages.create(**ANTHROPIC_ARGS)

    assert rate_limited.value.response.headers["retry-after"] == "7"
    assert rate_limited.value.type == "rate_limit_error"  # this SDK exposes body error.type as .type
    assert rate_limited.value.request_id.startswith("req_")
    # 529 has its own class, a subclass of InternalServerError (so "except InternalServerError" catches it).
    assert isinstance(overloaded.value, anthropic.InternalServerError)
    assert overloaded.value.status_code == 529
    assert overloaded.value.body["error"]["type"] == "overloaded_error"
    assert billing.value.status_code == 402
    assert type(billing.value) is anthropic.PaymentRequiredError
    assert len(llm.requests) == 3  # max_retries=0: one request each


def test_openai_errors(llm):
    llm.enqueue(
        Behaviour(status=429, error_type="insufficient_quota"),
        Behaviour(status=429, retry_after=2),
        Behaviour(status=500),
    )
    with gpt(llm) as client:
        with pytest.raises(openai.RateLimitError) as quota:
            client.chat.completions.create(**OPENAI_ARGS, stream=True)
        with pytest.raises(openai.RateLimitError) as rate_limited:
            client.chat.completions.create(**OPENAI_ARGS)
        with pytest.raises(openai.InternalServerError) as server_error:
            client.chat.completions.create(**OPENAI_ARGS)

    # The SDK unwraps {"error": {...}}: .body is the inner object, .code/.type come from it.
    assert quota.value.code == "insufficient_quota"
    assert quota.value.type == "insufficient_quota"
    assert quota.value.body["code"] == "insufficient_quota"
    assert rate_limited.value.code == "rate_limit_exceeded"
    assert rate_limited.value.response.headers["retry-after"] == "2"
    assert rate_limited.value.request_id.startswith("req-")  # from x-request-id
    assert server_error.value.status_code == 500
    assert server_error.value.code is None


def test_hang_longer_than_the_client_timeout(llm):
    llm.enqueue(Behaviour(hang=3), Behaviour(hang=3))
    with claude(llm, timeout=0.3) as client, pytest.raises(anthropic.APITimeoutError):
        client.messages.create(**ANTHROPIC_ARGS, stream=True)
    with gpt(llm, timeout=0.3) as client, pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(**OPENAI_ARGS, stream=True)


def test_cut_stream(llm):
    llm.enqueue(
        Behaviour(chunks=["a", "b", "c"], cut_after=2), Behaviour(chunks=["a", "b", "c"], cut_after=2)
    )
    # anthropic: the deltas sent arrive, then iteration raises httpx2's RemoteProtocolError
    # ("incomplete chunked read") UNWRAPPED: the anthropic Stream does not turn transport errors
    # during iteration into anthropic.APIConnectionError (only errors before the response are).
    with claude(llm) as client:
        texts = []
        with pytest.raises(httpx2.RemoteProtocolError):
            for event in client.messages.create(**ANTHROPIC_ARGS, stream=True):
                if event.type == "content_block_delta":
                    texts.append(event.delta.text)
        assert texts == ["a", "b"]
    # openai: wraps it, raising openai.APIConnectionError (cause: httpx2.RemoteProtocolError).
    with gpt(llm) as client:
        texts = []
        with pytest.raises(openai.APIConnectionError) as cut:
            for chunk in client.chat.completions.create(**OPENAI_ARGS, stream=True):
                texts.append(chunk.choices[0].delta.content)
        assert texts == ["", "a", "b"]
        assert isinstance(cut.value.__cause__, httpx2.RemoteProtocolError)
        assert not isinstance(cut.value, openai.APITimeoutError)


def test_gate_holds_the_stream_after_the_first_delta(llm):
    gate = threading.Event()
    llm.enqueue(Behaviour(chunks=["first ", "second ", "third"], gate=gate))
    with claude(llm) as client:
        events = iter(client.messages.create(**ANTHROPIC_ARGS, stream=True))
        event = next(e for e in events if e.type == "content_block_delta")
        assert event.delta.text == "first "

        rest: list[str] = []
        reader = threading.Thread(
            target=lambda: rest.extend(e.delta.text for e in events if e.type == "content_block_delta")
        )
        reader.start()
        reader.join(timeout=0.3)
        assert reader.is_alive() and rest == []  # held by the gate
        gate.set()
        reader.join(timeout=5)
        assert rest == ["second ", "third"]


def test_queue_default_reset_keepalive_and_healthz(llm):
    llm.default = Behaviour(text="default")
    llm.enqueue(Behaviour(text="one"), Behaviour(text="two"))
    with gpt(llm) as client:
        answers = [client.chat.completions.create(**OPENAI_ARGS).choices[0].message.content for _ in range(3)]
    assert answers == ["one", "two", "default"]
    assert llm.connections_opened == 1  # keep-alive: one connection for the three
    with claude(llm) as client:
        for _ in range(2):  # read to the end (terminating chunk included), so the connection is reused
            list(client.messages.create(**ANTHROPIC_ARGS, stream=True))
    assert llm.connections_opened == 2
    # Not so the SYNC openai client: its Stream stops at "data: [DONE]" and closes the response
    # before the terminating chunk is read, so httpx2 drops the connection (a new one per stream).
    # AsyncOpenAI drains the rest of the body after [DONE] and keeps its connections.
    assert len(llm.requests) == 5

    llm.enqueue(Behaviour(text="queued"))
    llm.reset()
    assert (llm.requests, llm.default, llm.connections_opened) == ([], Behaviour(), 0)
    health = http.client.HTTPConnection(llm.url.removeprefix("http://"), timeout=5)
    health.request("GET", "/healthz")
    assert health.getresponse().read() == b"ok"
    health.close()
    assert llm.requests == []  # only API calls are recorded


def test_concurrent_streams(llm):
    llm.default = Behaviour(first_token_delay=0.05, token_delay=0.02)  # ~0.2 s per stream

    async def run():
        async with openai.AsyncOpenAI(base_url=llm.url + "/v1", api_key="k", max_retries=0) as client:

            async def one(i: int) -> str:
                args = {**OPENAI_ARGS, "messages": [{"role": "user", "content": f"question {i}"}]}
                stream = await client.chat.completions.create(**args, stream=True)
                return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

            return await asyncio.gather(*(one(i) for i in range(100)))

    started = time.monotonic()
    answers = _run_in_fresh_loop(run)
    assert time.monotonic() - started < 10  # one after another it would take ~20 s
    assert answers[42] == "You asked: question 42. This is the fake model answering."
    assert len(llm.requests) == 100


def test_stop_closes_open_streams_and_joins_threads():
    gate = threading.Event()  # never set: the stream is held open by the server
    llm = FakeLLMServer().start()
    server_thread = llm._thread
    llm.enqueue(Behaviour(chunks=["x", "y"], gate=gate))
    with claude(llm) as client:
        events = iter(client.messages.create(**ANTHROPIC_ARGS, stream=True))
        next(e for e in events if e.type == "content_block_delta")
        served = list(llm._connections.values())  # the handler thread holding the stream
        started = time.monotonic()
        llm.stop()
        assert time.monotonic() - started < 2
        with pytest.raises(httpx2.RemoteProtocolError):
            list(events)
    # This server's own threads are gone (other tests' servers may run threads meanwhile).
    assert served and not server_thread.is_alive() and not any(t.is_alive() for t in served)
