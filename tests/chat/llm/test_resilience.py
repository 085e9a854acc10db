"""chat.llm.resilience: the circuit breaker per provider endpoint and key (a half-open
breaker lets one trial through, a cancelled trial releases it, one tenant's failing key
pauses no one else)."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync

from chat.llm.base import LLMRequest, ProviderError, Usage
from chat.llm.resilience import CircuitBreaker, breaker_for, breakers_reset, stream_resilient
from saas.crypto import secret_encrypt
from tests.chat.visitors import make_visitor
from tests.fakes.llm_server import Behaviour

pytestmark = pytest.mark.django_db


class _Hanging:
    """A provider that sends one delta and then waits forever (for cancellation tests)."""

    name, model, breaker_key = "hanging", "m", "hanging:test"

    async def stream(self, request, usage):
        yield "first"
        await asyncio.sleep(3600)


def test_a_cancelled_trial_call_does_not_leave_the_breaker_stuck(settings):
    breakers_reset()
    settings.LLM_BREAKER_FAILURES = 1
    settings.LLM_BREAKER_RESET_SECONDS = 0
    breaker = breaker_for(_Hanging.breaker_key)
    breaker.record(False)  # open; with a zero pause the next call is the half-open trial
    request = LLMRequest(system="", turns=[], model="m", max_tokens=10, temperature=0)

    async def visitor_leaves():
        first_delta = asyncio.Event()

        async def consume():
            async for _ in stream_resilient(_Hanging(), request, Usage()):
                first_delta.set()

        task = asyncio.create_task(consume())
        await first_delta.wait()  # the trial call is under way
        assert breaker.trial_running is True
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    async_to_sync(visitor_leaves)()
    assert breaker.trial_running is False
    breaker.before_call()  # another trial may go through: not "circuit_open" forever


def test_a_half_open_breaker_lets_only_one_trial_through():
    breaker = CircuitBreaker(failures=1, reset_s=0)
    breaker.record(False)
    breaker.before_call()
    with pytest.raises(ProviderError) as refused:
        breaker.before_call()
    assert refused.value.kind == "circuit_open"


@pytest.mark.usefixtures("own_keys_allowed")
def test_one_tenants_failing_key_does_not_pause_answers_for_others(
    client, tenant_a, tenant_b, fake_llm, settings
):
    settings.LLM_MAX_RETRIES = 0
    settings.LLM_BREAKER_FAILURES = 2
    own = make_visitor(tenant_b)
    own.bot(provider="anthropic", key_source="own", api_key_encrypted=secret_encrypt("sk-ant-bad-key-0001"))
    fake_llm.enqueue(*[Behaviour(status=500, error_type="api_error")] * 2)
    for _ in range(3):
        assert own.send(client, "Hi").json()["answer"]["outcome"] == "fallback"
    assert len(fake_llm.requests) == 2  # B's own breaker opened after two failures
    platform = make_visitor(tenant_a)
    assert platform.send(client, "Hi").json()["answer"]["outcome"] == "answered"  # A is unaffected


class _ToolsThenOverloaded:
    """A provider whose first attempt asks for a tool and then fails (retryable, before any
    text), and whose second attempt asks for another tool and ends."""

    name, model, breaker_key = "tools", "m", "tools:test"

    def __init__(self):
        self.attempts = 0

    async def stream(self, request, usage):
        from chat.llm.base import ToolCall

        self.attempts += 1
        usage.tool_calls.append(ToolCall(f"call_{self.attempts}", "order_status", {}))
        if self.attempts == 1:
            usage.stop_reason = "tool_use"
            raise ProviderError("overloaded")
        usage.stop_reason, usage.finished = "tool_use", True
        if False:  # an async generator that yields no text
            yield ""


def test_a_retried_attempt_does_not_keep_the_failed_attempt_s_tool_calls(settings):
    breakers_reset()
    settings.LLM_MAX_RETRIES = 2
    provider, usage = _ToolsThenOverloaded(), Usage()
    request = LLMRequest(system="", turns=[], model="m", max_tokens=10, temperature=0)

    async def answer():
        async for _ in stream_resilient(provider, request, usage):
            pass

    async_to_sync(answer)()
    assert provider.attempts == 2
    assert [call.id for call in usage.tool_calls] == ["call_2"]  # the first attempt's never runs
