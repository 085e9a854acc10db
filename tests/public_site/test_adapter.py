"""How allauth behaves on the public host: its sign-in, signup and reset limits count per
client address the way every other limit does (saas.ratelimit.client_address)."""

from __future__ import annotations

from django.test import RequestFactory

from public_site.adapter import AccountAdapter


def _request(peer: str, forwarded: str):
    return RequestFactory().post("/accounts/login/", REMOTE_ADDR=peer, HTTP_X_FORWARDED_FOR=forwarded)


def test_allauth_limits_count_the_client_behind_a_trusted_proxy_only(settings):
    adapter = AccountAdapter()
    settings.TRUSTED_PROXIES = []
    assert adapter.get_client_ip(_request("10.0.0.7", "203.0.113.9")) == "10.0.0.7"
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert adapter.get_client_ip(_request("10.0.0.7", "203.0.113.9")) == "203.0.113.9"
    # a client cannot name another address through an untrusted peer
    assert adapter.get_client_ip(_request("198.51.100.4", "203.0.113.9")) == "198.51.100.4"
