"""Reads of the actions domain."""

from __future__ import annotations

from saas.crypto import secret_decrypt

from .models import Action


def action_signing_secret(action: Action) -> str:
    """The secret the tenant's server verifies calls with (shown to owners and admins)."""
    return secret_decrypt(action.signing_secret)


def actions_enabled() -> list[Action]:
    return list(Action.objects.filter(is_enabled=True))
