"""saas.crypto: tenants' secrets under the master key: every ciphertext different, hints
that show only the end."""

from __future__ import annotations

from saas.crypto import new_master_key, secret_encrypt, secret_hint


def test_ciphertexts_differ_and_hints_show_only_the_end(settings):
    settings.SECRET_ENCRYPTION_KEYS = [new_master_key()]
    one, two = secret_encrypt("sk-same-secret-9999"), secret_encrypt("sk-same-secret-9999")
    assert one != two and "sk-same" not in one
    assert secret_hint("sk-same-secret-9999") == "…9999" and secret_hint("short") == "…"
