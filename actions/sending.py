"""One call to an action's endpoint through the checked, pinned outbound path
(saas.outbound): every connection resolves the host once, refuses private addresses unless
ACTIONS_ALLOW_PRIVATE or ACTIONS_PRIVATE_ALLOWLIST ("host:port") allows them, and connects
to the address it checked. Redirects are not followed; nothing is retried (an action may
have side effects). At most ``ACTIONS_MAX_RESPONSE_BYTES`` of the answer are read, as they
arrive (no decompression), within the action's timeout for the whole call."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx2
from django.conf import settings

from saas.observability.context import HEADER, request_id_current
from saas.outbound import GuardedTransport, SettingsPolicy, refusal_in

POLICY = SettingsPolicy(allow_setting="ACTIONS_ALLOW_PRIVATE", allowlist_setting="ACTIONS_PRIVATE_ALLOWLIST")
LIMITS = httpx2.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)


@dataclass(frozen=True)
class Reply:
    status: int | None  # None: no HTTP answer (refused, timed out, connection failed)
    body: bytes
    content_type: str
    duration_ms: int
    truncated: bool = False
    error: str = ""
    refused: bool = False
    timed_out: bool = False
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names


class _Client:
    """One client per process (made on first use, after a worker's fork)."""

    client: httpx2.Client | None = None

    @classmethod
    def get(cls) -> httpx2.Client:
        if cls.client is None:
            cls.client = httpx2.Client(
                transport=GuardedTransport(POLICY, limits=LIMITS), follow_redirects=False, trust_env=False
            )
        return cls.client


def send(
    method: str,
    url: str,
    *,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    enough: Callable[[bytes], bool] | None = None,
) -> Reply:
    """``enough``: read no further once it holds for what came so far (an event stream
    whose answer has arrived, the stream left open)."""
    request_id = request_id_current()
    if request_id:
        headers = {**headers, HEADER: request_id}
    limit = settings.ACTIONS_MAX_RESPONSE_BYTES
    started = time.perf_counter()
    try:
        with _Client.get().stream(
            method, url, content=body or None, headers=headers, timeout=httpx2.Timeout(timeout)
        ) as response:
            taken = bytearray()
            for chunk in response.iter_raw():  # as they arrive: no decompression (identity asked)
                taken += chunk
                if len(taken) > limit:
                    break
                if enough is not None and enough(bytes(taken)):
                    break
                if time.perf_counter() - started > timeout:  # a trickle: the whole call has one bound
                    raise httpx2.ReadTimeout("The answer took longer than the action's timeout.")
            status, content_type = response.status_code, response.headers.get("content-type", "")
            answered = {k.lower(): v for k, v in response.headers.items()}
    except (httpx2.HTTPError, httpx2.InvalidURL, ValueError) as exc:  # UnsafeAddress is a ValueError
        elapsed = int((time.perf_counter() - started) * 1000)
        refused = refusal_in(exc)
        if refused is not None:
            return Reply(None, b"", "", elapsed, error=str(refused)[:300], refused=True)
        if isinstance(exc, httpx2.TimeoutException):
            return Reply(None, b"", "", elapsed, error=f"No answer within {timeout:g} s.", timed_out=True)
        return Reply(None, b"", "", elapsed, error=f"Connection failed: {type(exc).__name__}")
    elapsed = int((time.perf_counter() - started) * 1000)
    return Reply(
        status, bytes(taken[:limit]), content_type, elapsed, truncated=len(taken) > limit, headers=answered
    )
