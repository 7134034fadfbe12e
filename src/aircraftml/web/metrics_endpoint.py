"""``GET /metrics``: the bot's metrics in Prometheus' text format.

In multiprocess mode (``metrics_dir``) the counts of every process of this ``serve`` are
summed from their files; otherwise this process's own. The queue's depth is read from the
queue at each scrape.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import anyio.to_thread
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aircraftml.metrics_dir import MULTIPROC_ENV
from aircraftml.queue.base import RequestQueue


class QueueCollector:
    """The queue's depth by state, read when scraped."""

    def __init__(self, queue: RequestQueue) -> None:
        self._queue = queue

    def collect(self) -> Iterator[Metric]:
        stats = self._queue.stats()
        family = GaugeMetricFamily(
            "aircraftml_queue_messages", "Messages in the request queue, by state", labels=["state"]
        )
        for state in ("ready", "in_flight", "delayed", "dead"):
            family.add_metric([state], getattr(stats, state))
        yield family


def scrape(queue: RequestQueue | None) -> bytes:
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        counts = generate_latest(registry)
    else:
        counts = generate_latest(REGISTRY)
    if queue is None:
        return counts
    queue_registry = CollectorRegistry()
    queue_registry.register(QueueCollector(queue))
    return counts + generate_latest(queue_registry)


def metrics_route(queue: RequestQueue | None) -> Route:
    async def metrics(request: Request) -> Response:
        body = await anyio.to_thread.run_sync(scrape, queue)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return Route("/metrics", metrics, methods=["GET"])
