"""The chat benchmark's visitor: one message sent and its answer stream read."""

from __future__ import annotations

import time

HOST = "bench.test"
ORIGIN = "https://customer.example"


def pcts(values: list[float]) -> dict:
    values = sorted(values)
    if not values:
        return {"n": 0, "p50": float("nan"), "p95": float("nan"), "p99": float("nan")}

    def pct(p: float) -> float:
        return values[min(len(values) - 1, int(p * len(values)))]

    return {"n": len(values), "p50": pct(0.5), "p95": pct(0.95), "p99": pct(0.99)}


async def send(
    client, visitor: dict, text: str, n: int, status: list | None = None
) -> tuple[float | None, float, bool]:
    """POST one message, read the stream to ``done``. Returns (ttft s, total s, ok); the
    HTTP status is appended to ``status`` when given."""
    started = time.perf_counter()
    ttft = None
    url = f"/api/widget/v1/{visitor['key']}/conversations/{visitor['conversation']}/messages"
    headers = {
        "Host": HOST,
        "Origin": ORIGIN,
        "Authorization": f"Bearer {visitor['token']}",
        "Accept": "text/event-stream",
    }
    body = {"text": text, "client_message_id": f"bench-{n}"}
    done = False
    async with client.stream("POST", url, json=body, headers=headers) as response:
        if status is not None:
            status.append(response.status_code)
        if response.status_code != 200:
            await response.aread()
            return None, time.perf_counter() - started, False
        async for chunk in response.aiter_bytes():
            if ttft is None and b"event: delta" in chunk:
                ttft = time.perf_counter() - started
            if b"event: done" in chunk:
                done = True
    return ttft, time.perf_counter() - started, done
