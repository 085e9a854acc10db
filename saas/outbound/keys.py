"""The key-wipe rule: a secret a tenant gave for one endpoint is never sent to another."""

from __future__ import annotations


def endpoint_key_kept(*, old: tuple[str, ...], new: tuple[str, ...]) -> bool:
    """Whether a stored key may stay when a tenant's settings change from the endpoint
    ``old`` to ``new`` (each a tuple such as ``(provider, base_url)``). Any change of
    provider or address wipes it: the tenant gives the key again for the new endpoint."""
    return tuple(_norm(part) for part in old) == tuple(_norm(part) for part in new)


def _norm(value: str | None) -> str:
    return (value or "").strip().rstrip("/")
