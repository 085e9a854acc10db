"""What identifies an SDK client's endpoint and key. The clients themselves are set up, and
kept per event loop, by ``saas.outbound.sdk`` (``loop_clients_close`` is re-exported for
``chat.answering``, which closes a loop's clients when the loop was made for one call)."""

from __future__ import annotations

import hashlib

from saas.outbound.sdk import loop_clients_close

__all__ = ["key_fingerprint", "loop_clients_close"]


def key_fingerprint(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()[:12]
