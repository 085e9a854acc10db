"""The address rate limits count by: X-Forwarded-For only through proxies we trust."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from saas.errors import RateLimited
from saas.ratelimit import client_address, rate_limit_enforce

INGRESS = "10.0.0.7"


def _request(peer: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": peer}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


@pytest.fixture
def trusted(settings):
    def trust(*proxies: str) -> None:
        settings.TRUSTED_PROXIES = list(proxies)

    return trust


def test_by_default_the_header_is_never_read(settings):
    assert settings.TRUSTED_PROXIES == []
    assert client_address(_request("198.51.100.4", "203.0.113.9")) == "198.51.100.4"
    assert client_address(_request(INGRESS, "203.0.113.9")) == INGRESS


def test_a_peer_that_is_not_a_trusted_proxy_cannot_choose_its_address(trusted):
    trusted("10.0.0.0/8")
    assert client_address(_request("198.51.100.4", "203.0.113.9")) == "198.51.100.4"
    assert client_address(_request("198.51.100.4", "10.0.0.9")) == "198.51.100.4"


def test_through_a_trusted_proxy_the_client_is_the_address_it_appended(trusted):
    trusted(INGRESS)
    assert client_address(_request(INGRESS, "203.0.113.9")) == "203.0.113.9"
    assert client_address(_request(INGRESS, " 203.0.113.9 ")) == "203.0.113.9"
    assert client_address(_request(INGRESS, "2001:db8::5")) == "2001:db8::5"


def test_several_trusted_hops_are_skipped(trusted):
    trusted("10.0.0.0/8", "192.0.2.10")
    chain = "203.0.113.9, 192.0.2.10, 10.1.2.3"
    assert client_address(_request(INGRESS, chain)) == "203.0.113.9"


def test_spoofed_left_most_entries_are_not_believed(trusted):
    trusted("10.0.0.0/8")
    # the client sent "X-Forwarded-For: 1.2.3.4, 10.9.9.9" itself; the ingress appended its peer
    assert client_address(_request(INGRESS, "1.2.3.4, 10.9.9.9, 198.51.100.4")) == "198.51.100.4"


def test_a_hop_that_is_not_an_address_ends_the_walk_at_the_proxy_that_wrote_it(trusted):
    """Skipping it would believe the client's own entry behind it."""
    trusted("10.0.0.0/8")
    assert client_address(_request(INGRESS, "6.6.6.6, not-an-ip")) == INGRESS
    assert client_address(_request(INGRESS, "6.6.6.6, unknown")) == INGRESS
    assert client_address(_request(INGRESS, "6.6.6.6,, unknown, 999.1.1.1, 10.0.0.8")) == "10.0.0.8"


def test_hops_with_ports_are_read(trusted):
    trusted("10.0.0.0/8", "fd00::/8")
    assert client_address(_request(INGRESS, "6.6.6.6, 203.0.113.7:51234")) == "203.0.113.7"
    assert client_address(_request(INGRESS, "6.6.6.6, [2001:db8::7]:443")) == "2001:db8::7"
    assert client_address(_request(INGRESS, "6.6.6.6, 2001:db8::7")) == "2001:db8::7"
    assert client_address(_request(INGRESS, "203.0.113.9:443")) == "203.0.113.9"


def test_malformed_values_never_fail(trusted):
    trusted("10.0.0.0/8")
    assert client_address(_request(INGRESS, "")) == INGRESS
    assert client_address(_request(INGRESS)) == INGRESS
    assert client_address(_request(INGRESS, "\x00, <script>, ::ffff:203.0.113.9")) == "203.0.113.9"
    assert client_address(_request("garbage", "203.0.113.9")) == "garbage"  # an odd peer is not trusted


def test_when_every_hop_is_ours_the_request_started_at_the_farthest(trusted):
    trusted("10.0.0.0/8")
    assert client_address(_request(INGRESS, "10.4.4.4, 10.5.5.5")) == "10.4.4.4"


def test_ipv6_proxies_and_mapped_addresses(trusted):
    trusted("fd00::/8")
    assert client_address(_request("fd00::1", "::ffff:198.51.100.4")) == "198.51.100.4"
    assert client_address(_request("::ffff:10.0.0.7", "203.0.113.9")) == "::ffff:10.0.0.7"


def test_a_bad_setting_fails_loudly(trusted):
    trusted("10.0.0.0/8", "the-ingress")
    with pytest.raises(ImproperlyConfigured, match="TRUSTED_PROXIES"):
        client_address(_request(INGRESS, "203.0.113.9"))


def test_limits_count_each_client_behind_the_proxy_apart(trusted):
    trusted(INGRESS)
    for _ in range(2):
        rate_limit_enforce(_request(INGRESS, "203.0.113.9"), "xff-test", limit=2, period_s=60)
    with pytest.raises(RateLimited):
        rate_limit_enforce(_request(INGRESS, "203.0.113.9"), "xff-test", limit=2, period_s=60)
    # another visitor behind the same ingress has a budget of its own ...
    rate_limit_enforce(_request(INGRESS, "203.0.113.10"), "xff-test", limit=2, period_s=60)
    # ... and the limited one cannot escape by writing another address in front
    with pytest.raises(RateLimited):
        rate_limit_enforce(_request(INGRESS, "1.1.1.1, 203.0.113.9"), "xff-test", limit=2, period_s=60)
