"""Every provider call: one deadline for the whole answer, bounded retries that honour
``retry-after`` (never past the deadline, never after text reached the visitor, never for a
spend-limit refusal), and a circuit breaker per provider endpoint that stops calling a
provider that keeps failing and lets one trial call through after a pause."""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import AsyncGenerator

from django.conf import settings

from .base import LLMRequest, Provider, ProviderError, Usage

logger = logging.getLogger(__name__)


class CircuitBreaker:
    def __init__(self, *, failures: int, reset_s: float):
        self.threshold, self.reset_s = failures, reset_s
        self.failures, self.opened_at = 0, 0.0
        self.trial_running = False
        self._lock = threading.Lock()

    def before_call(self) -> None:
        with self._lock:
            if self.failures < self.threshold:
                return
            if time.monotonic() - self.opened_at < self.reset_s or self.trial_running:
                raise ProviderError("circuit_open", "The provider is failing; calls are paused.")
            self.trial_running = True  # half-open: this call is the trial

    def record(self, ok: bool) -> None:
        with self._lock:
            self.trial_running = False
            if ok:
                self.failures = 0
            else:
                self.failures += 1
                if self.failures >= self.threshold:
                    self.opened_at = time.monotonic()

    def release(self) -> None:
        """The call failed for a reason that says nothing about the provider's health."""
        with self._lock:
            self.trial_running = False

    @property
    def is_open(self) -> bool:
        return self.failures >= self.threshold


_breakers: dict[str, CircuitBreaker] = {}
_breakers_lock = threading.Lock()


def breaker_for(key: str) -> CircuitBreaker:
    with _breakers_lock:
        if key not in _breakers:
            _breakers[key] = CircuitBreaker(
                failures=settings.LLM_BREAKER_FAILURES, reset_s=settings.LLM_BREAKER_RESET_SECONDS
            )
        return _breakers[key]


def breakers_reset() -> None:
    with _breakers_lock:
        _breakers.clear()


async def stream_resilient(
    provider: Provider, request: LLMRequest, usage: Usage, *, deadline_s: float | None = None
) -> AsyncGenerator[str, None]:
    """Yield the provider's text deltas; raise :class:`ProviderError` when it cannot answer.

    The deadline covers retries and waiting; a retry happens only before the first delta
    (text the visitor has seen is never repeated or replaced). The consumer must not await
    anything else between deltas (the deadline's scope spans the yields); the answer
    pipeline's producer task only hands them to a queue.
    """
    deadline_s = settings.LLM_DEADLINE_SECONDS if deadline_s is None else deadline_s
    started = time.monotonic()
    breaker = breaker_for(provider.breaker_key)
    attempt = 0
    while True:
        breaker.before_call()
        produced = False
        try:
            remaining = deadline_s - (time.monotonic() - started)
            if remaining <= 0:
                raise ProviderError("timeout", "The answer took longer than the deadline.")
            async with asyncio.timeout(remaining):
                async for delta in provider.stream(request, usage):
                    produced = True
                    yield delta
        except TimeoutError:
            error = ProviderError("timeout", "The answer took longer than the deadline.")
        except ProviderError as exc:
            error = exc
        except BaseException:  # cancelled (the visitor left) or closed early: no verdict
            breaker.release()
            raise
        else:
            breaker.record(True)
            return
        # A deadline hit while text was flowing is a long answer, not a sick provider.
        if error.counts_against_health and not (produced and error.kind == "timeout"):
            breaker.record(False)
        else:
            breaker.release()
        wait = (
            error.retry_after if error.retry_after is not None else 0.25 * 2**attempt + random.random() * 0.1  # noqa: S311 - jitter
        )
        elapsed = time.monotonic() - started
        if (
            produced
            or not error.retryable
            or attempt >= settings.LLM_MAX_RETRIES
            or wait > settings.LLM_RETRY_AFTER_MAX_SECONDS
            or elapsed + wait >= deadline_s
        ):
            logger.warning(
                "llm call failed provider=%s kind=%s status=%s attempt=%s",
                provider.name,
                error.kind,
                error.status,
                attempt,
            )
            raise error
        logger.info("llm retry provider=%s kind=%s wait=%.2fs", provider.name, error.kind, wait)
        attempt += 1
        usage.input_tokens = usage.output_tokens = 0
        # What the failed attempt said is not the answer: its tool calls must not run twice.
        usage.tool_calls.clear()
        usage.stop_reason, usage.finished = "", False
        await asyncio.sleep(wait)
