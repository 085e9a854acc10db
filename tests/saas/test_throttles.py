"""saas.throttles: DRF throttles on the cache-backed limiter, answered as problem details."""

from __future__ import annotations

import json

import pytest
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from saas.throttles import NOT_COUNTED, CacheRateThrottle, ProblemThrottlingMixin


class PerAddress(CacheRateThrottle):
    scope, period_s = "test-address", 60
    limits_setting, limit_name = "TEST_RATE_LIMITS", "per_address"


class PerAccount(CacheRateThrottle):
    """Counted per ``?account=``; requests without one are not counted."""

    scope, period_s = "test-account", 3600
    limits_setting, limit_name = "TEST_RATE_LIMITS", "per_account"

    def counter_key(self, request, view):
        return request.query_params.get("account") or NOT_COUNTED


class Limited(ProblemThrottlingMixin, APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [PerAddress, PerAccount]

    def get(self, request):
        return Response({"ok": True})


@pytest.fixture(autouse=True)
def limits(settings):
    settings.TEST_RATE_LIMITS = {"per_address": 3, "per_account": 2}
    return settings


def _get(query: str = "", address: str = "127.0.0.1"):
    return Limited.as_view()(APIRequestFactory().get(f"/{query}", REMOTE_ADDR=address))


def _statuses(times: int, **kwargs) -> list[int]:
    return [_get(**kwargs).status_code for _ in range(times)]


def test_counts_per_client_address_by_default():
    assert _statuses(4) == [200, 200, 200, 429]
    assert _get(address="10.0.0.2").status_code == 200


def test_a_refusal_is_problem_details_with_retry_after():
    _statuses(3)
    refused = _get()
    assert refused.status_code == 429 and refused["Content-Type"] == "application/problem+json"
    assert refused["Retry-After"] == "30"  # the window ends 30 s after the tests' still clock
    assert json.loads(refused.content)["code"] == "rate_limited"


def test_the_limit_is_read_on_each_request(limits):
    assert _statuses(2) == [200, 200]
    limits.TEST_RATE_LIMITS = {"per_address": 1, "per_account": 2}
    assert _get().status_code == 429


def test_a_counter_key_and_requests_it_does_not_count():
    assert _statuses(2, query="?account=a", address="10.0.0.1") == [200, 200]
    assert _get(query="?account=a", address="10.0.0.2").status_code == 429  # per account, any address
    assert _get(query="?account=b", address="10.0.0.3").status_code == 200
    assert _statuses(3, address="10.0.0.4") == [200, 200, 200]  # no account: only the address counts


def test_the_first_refusal_answers_and_later_limits_do_not_count():
    assert _statuses(3, query="?account=a") == [200, 200, 429]  # the account's limit (2)
    # Refused by the address limit first: the account's counter does not move.
    assert _statuses(3, query="?account=c") == [429, 429, 429]
    assert _get(query="?account=c", address="10.0.0.9").status_code == 200
    assert _get(query="?account=c", address="10.0.0.9").status_code == 200
    assert _get(query="?account=c", address="10.0.0.8").status_code == 429
