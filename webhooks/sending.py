"""One POST to an endpoint, through the checked, pinned outbound path (saas.outbound): every
connection resolves the host once, refuses private addresses unless WEBHOOKS_ALLOW_PRIVATE
or WEBHOOKS_PRIVATE_ALLOWLIST ("host:port") allows them, and connects to the address it
checked. Redirects are not followed (a 3xx is a failed attempt). The answer's first
``EXCERPT_BYTES`` are kept; the rest is not read."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx2
from django.conf import settings

from saas.observability.context import HEADER, request_id_current
from saas.observability.metrics import WEBHOOK_DELIVERIES, webhook_outcome
from saas.outbound import GuardedTransport, SettingsPolicy, refusal_in

POLICY = SettingsPolicy(
    allow_setting="WEBHOOKS_ALLOW_PRIVATE", allowlist_setting="WEBHOOKS_PRIVATE_ALLOWLIST"
)
EXCERPT_BYTES = 2048
LIMITS = httpx2.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer (refused, timed out, connection failed)
    body: str
    duration_ms: int
    error: str = ""
    refused: bool = False

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _Client:
    """One client per process (made on first use, after a worker's fork): kept-alive
    connections to the same receivers are reused."""

    client: httpx2.Client | None = None

    @classmethod
    def get(cls) -> httpx2.Client:
        if cls.client is None:
            cls.client = httpx2.Client(
                transport=GuardedTransport(POLICY, limits=LIMITS), follow_redirects=False, trust_env=False
            )
        return cls.client


def _read_excerpt(response: httpx2.Response) -> str:
    taken = bytearray()
    for chunk in response.iter_bytes():
        taken += chunk
        if len(taken) >= EXCERPT_BYTES:
            break
    return bytes(taken[:EXCERPT_BYTES]).decode("utf-8", errors="replace")


def post(url: str, *, body: bytes, headers: dict[str, str]) -> Answer:
    """POST ``body``; the answer, counted in the metrics by outcome. The request id of the
    work that sent the event (a request, carried into the task) goes along as
    ``X-Request-ID``, so a receiver's support question can be traced back."""
    request_id = request_id_current()
    if request_id:
        headers = {**headers, HEADER: request_id}
    answer = _post(url, body=body, headers=headers)
    timed_out = answer.error.startswith("Timed out")
    WEBHOOK_DELIVERIES.labels(
        webhook_outcome(status=answer.status, refused=answer.refused, timed_out=timed_out)
    ).inc()
    return answer


def _post(url: str, *, body: bytes, headers: dict[str, str]) -> Answer:
    timeout = httpx2.Timeout(float(settings.WEBHOOKS_TIMEOUT_SECONDS))
    started = time.perf_counter()
    try:
        with _Client.get().stream("POST", url, content=body, headers=headers, timeout=timeout) as response:
            excerpt = _read_excerpt(response)
            status = response.status_code
    except (httpx2.HTTPError, httpx2.InvalidURL, ValueError) as exc:  # UnsafeAddress is a ValueError
        elapsed = int((time.perf_counter() - started) * 1000)
        refused = refusal_in(exc)
        if refused is not None:
            return Answer(None, "", elapsed, error=str(refused)[:300], refused=True)
        kind = "Timed out" if isinstance(exc, httpx2.TimeoutException) else "Connection failed"
        return Answer(None, "", elapsed, error=f"{kind}: {exc}"[:300])
    return Answer(status, excerpt, int((time.perf_counter() - started) * 1000))
