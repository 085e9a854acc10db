"""``GET /metrics`` in Prometheus' text format, answered before tenant routing (a scraper
names the pod's address, not a workspace's host) and only to a scraper we trust:

* ``Authorization: Bearer <METRICS_TOKEN>``, or
* a direct connection from a network in ``METRICS_ALLOWED_NETWORKS`` (CIDRs). A request
  that came through a proxy (``X-Forwarded-For``/``Forwarded``) is never let in by its
  address: behind an ingress every visitor would arrive from the ingress's private address.

Anyone else gets the same 404 ``not_found`` as any unknown address, so the endpoint's
existence is not advertised. With ``PROMETHEUS_MULTIPROC_DIR`` the answer adds up every
process's values (uvicorn workers, Celery children writing into the same directory).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from saas.dependency_state import describe, state_changed
from saas.errors import NotFound, problem_response

logger = logging.getLogger(__name__)

PATH = "/metrics"


def _networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(cidr, strict=False) for cidr in settings.METRICS_ALLOWED_NETWORKS]


def scraper_allowed(request: HttpRequest) -> bool:
    return scraper_allowed_by(
        authorization=request.headers.get("Authorization", ""),
        remote_addr=request.META.get("REMOTE_ADDR", ""),
        proxied="X-Forwarded-For" in request.headers or "Forwarded" in request.headers,
    )


def scraper_allowed_by(*, authorization: str, remote_addr: str, proxied: bool) -> bool:
    """The bearer token, or a direct connection from an allowed network."""
    token = settings.METRICS_TOKEN
    bearer = authorization[7:] if authorization.startswith("Bearer ") else ""
    if token and bearer and hmac.compare_digest(bearer.encode(), token.encode()):
        return True
    if not settings.METRICS_ALLOWED_NETWORKS or proxied:
        return False
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:  # a Unix socket, a test client without an address
        return False
    return any(address in network for network in _networks())


class QueueDepthCollector(Collector):
    """The number of messages waiting in each Celery queue, read from the Redis broker at
    scrape time (``LLEN``; one round trip per queue, a second's timeout)."""

    def collect(self) -> Iterator[Metric]:
        broker = settings.CELERY_BROKER_URL
        if not broker.startswith(("redis://", "rediss://")):
            return
        family = GaugeMetricFamily(
            "saas_celery_queue_depth", "Messages waiting in a Celery queue (Redis broker).", labels=["queue"]
        )
        try:
            depths = _queue_depths(broker, queues_watched())
        except Exception as exc:  # Redis down: the scrape still answers, the log says why once
            state_changed("metrics: celery queue depth", False, describe(exc))
            return
        state_changed("metrics: celery queue depth", True)
        for queue, depth in depths:
            family.add_metric([queue], depth)
        yield family


def queues_watched() -> list[str]:
    """``METRICS_CELERY_QUEUES``, or else the default queue and every queue named in
    ``CELERY_TASK_ROUTES`` (a split of the workers by queue is watched without a setting)."""
    if settings.METRICS_CELERY_QUEUES:
        return list(settings.METRICS_CELERY_QUEUES)
    queues = [getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery")]
    routes = getattr(settings, "CELERY_TASK_ROUTES", None) or {}
    for route in routes.values() if isinstance(routes, dict) else ():
        queue = route.get("queue") if isinstance(route, dict) else None
        if isinstance(queue, str) and queue not in queues:
            queues.append(queue)
    return queues


def _queue_depths(broker: str, queues: Iterable[str]) -> list[tuple[str, int]]:
    import redis  # only a scrape of a process with a Redis broker needs the client

    client = redis.Redis.from_url(broker, socket_timeout=1, socket_connect_timeout=1)
    try:
        pipe = client.pipeline(transaction=False)
        names = list(queues)
        for name in names:
            pipe.llen(name)
        return list(zip(names, (int(n) for n in pipe.execute()), strict=True))
    finally:
        client.close()


def metrics_registry() -> CollectorRegistry:
    """What a scrape reads: every process's values in multiprocess mode, else this
    process's; plus the queue depth sampled now."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Delegate(REGISTRY))
    registry.register(QueueDepthCollector())
    return registry


def metrics_response(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD") or not scraper_allowed(request):
        return problem_response(NotFound("Nothing is here."))
    response = HttpResponse(generate_latest(metrics_registry()), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response


class _Delegate(Collector):
    """The process's own registry, read into a fresh one per scrape (so the queue depth
    collector is not registered on the global registry)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        yield from self.registry.collect()
