"""Secrets that tenants give us (their own LLM keys), encrypted at rest.

Fernet (AES-128-CBC + HMAC-SHA256) under a master key list from ``SECRET_ENCRYPTION_KEYS``:
the first key encrypts, every key decrypts, so a new master key is rolled out by putting it
first, running ``manage.py rotate_secrets`` (re-encrypts every stored secret) and then
dropping the old one. Without the setting (development, tests) a key is derived from
``SECRET_KEY``; production refuses to start without it.

Nothing here logs a secret; :func:`secret_hint` is the only form ever shown again.
"""

from __future__ import annotations

import base64
import functools
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretUnreadable(Exception):
    """A stored secret could not be decrypted with any configured master key."""


@functools.cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k.encode()) for k in keys])


def _keys() -> tuple[str, ...]:
    keys = tuple(k for k in getattr(settings, "SECRET_ENCRYPTION_KEYS", []) if k)
    if keys:
        return keys
    derived = hashlib.sha256(b"saas.crypto:" + settings.SECRET_KEY.encode()).digest()
    return (base64.urlsafe_b64encode(derived).decode(),)


def secret_encrypt(plain: str) -> str:
    return _fernet(_keys()).encrypt(plain.encode()).decode() if plain else ""


def secret_decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet(_keys()).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable("No configured master key decrypts this secret.") from exc


def secret_rotate(token: str) -> str:
    """The same secret encrypted under the current (first) master key."""
    return _fernet(_keys()).rotate(token.encode()).decode() if token else ""


def secret_hint(plain: str) -> str:
    """What the dashboard shows of a stored key: its last four characters."""
    return f"…{plain[-4:]}" if len(plain) >= 8 else "…"


def new_master_key() -> str:
    return Fernet.generate_key().decode()
