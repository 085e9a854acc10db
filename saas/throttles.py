"""DRF throttles counted by the cache-backed limiter (``saas.ratelimit.rate_limit``), and
the view mixin that answers a refusal the way every API of the platform does.

A throttle names its counter (``scope``), its window (``period_s``) and where its limit is
configured (``limits_setting`` and ``limit_name``: ``settings.WIDGET_RATE_LIMITS
["ip_per_minute"]``); the limit is read on each request, so a changed setting applies at
once. By default it counts per client address; ``counter_key`` counts per something else
(a widget, a visitor) or returns ``NOT_COUNTED`` for requests it does not apply to.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar, Final, NoReturn

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from .errors import RateLimited
from .ratelimit import rate_limit


class _NotCounted:
    def __repr__(self) -> str:
        return "NOT_COUNTED"


NOT_COUNTED: Final = _NotCounted()
# What a throttle counts a request per: a key, None for the client address, or NOT_COUNTED.
CounterKey = str | None | _NotCounted


class CacheRateThrottle(BaseThrottle):
    scope: ClassVar[str]
    period_s: ClassVar[int]
    limits_setting: ClassVar[str]
    limit_name: ClassVar[str]

    def __init__(self) -> None:
        self.retry_after = 0

    def limit(self) -> int:
        return int(getattr(settings, self.limits_setting)[self.limit_name])

    def counter_key(self, request: Request, view: APIView) -> CounterKey:
        """What the limit is counted per; ``None`` is the client address."""
        return None

    def allow_request(self, request: Request, view: APIView) -> bool:
        key = self.counter_key(request, view)
        if isinstance(key, _NotCounted):
            return True
        self.retry_after = rate_limit(
            request, self.scope, limit=self.limit(), period_s=self.period_s, key=key
        )
        return not self.retry_after

    def wait(self) -> float | None:
        return self.retry_after or None


if TYPE_CHECKING:
    _ViewBase = APIView  # what the mixin is mixed into
else:
    _ViewBase = object


class ProblemThrottlingMixin(_ViewBase):
    """For API views: throttles are checked in order and the first refusal answers, so a
    request refused by one limit is not counted by the later ones; the answer is 429
    problem details (``rate_limited``) with ``Retry-After``, like every other limit."""

    def check_throttles(self, request: Request) -> None:
        for throttle in self.get_throttles():
            if not throttle.allow_request(request, self):
                self.throttled(request, throttle.wait())

    def throttled(self, request: Request, wait: float | None) -> NoReturn:
        retry = max(1, math.ceil(wait)) if wait else 1
        raise RateLimited(headers={"Retry-After": str(retry)})
