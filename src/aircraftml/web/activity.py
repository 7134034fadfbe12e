"""Mentions and replies over the last hours, for the dashboard's chart.

The counts are the metrics' own (``aircraftml_events_queued_total`` and replied mentions,
summed over serve's processes): ``Activity`` takes a snapshot of the totals every minute
and the chart shows the differences per bucket. Nothing is stored: the chart starts with
the process.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from aircraftml.metrics_dir import MULTIPROC_ENV

Totals = tuple[float, float]  # (mentions queued, mentions replied)


def read_totals() -> Totals:
    registry: CollectorRegistry = REGISTRY
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    queued = replied = 0.0
    for family in registry.collect():
        for found in family.samples:
            if found.name == "aircraftml_events_queued_total":
                queued += found.value
            elif found.name == "aircraftml_mentions_total" and found.labels.get("outcome") in (
                "replied",
                "help sent",
            ):
                replied += found.value
    return queued, replied


@dataclass(frozen=True, slots=True)
class Bucket:
    start_epoch_s: float
    mentions: float
    replies: float


class Activity:
    def __init__(
        self,
        read: Callable[[], Totals] = read_totals,
        *,
        interval_s: float = 60.0,
        keep_s: float = 6 * 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._read = read
        self._interval_s = interval_s
        self._clock = clock
        self._snapshots: deque[tuple[float, Totals]] = deque(maxlen=int(keep_s / interval_s) + 2)
        self._lock = threading.Lock()

    def sample(self) -> None:
        totals = self._read()
        with self._lock:
            self._snapshots.append((self._clock(), totals))

    def run(self, stop: threading.Event) -> None:
        """Sample every ``interval_s`` until ``stop`` (serve runs it in a thread)."""
        while True:
            self.sample()
            if stop.wait(self._interval_s):
                return

    def buckets(self, bucket_s: float = 600.0, hours: float = 6.0) -> list[Bucket]:
        """What happened in each ``bucket_s`` of the last ``hours`` (oldest first), from
        the first snapshot on."""
        self.sample()
        with self._lock:
            snapshots = list(self._snapshots)
        now = self._clock()
        first = max(now - hours * 3600.0, snapshots[0][0])
        start = first - first % bucket_s
        result = []
        while start < now:
            end = start + bucket_s
            inside = [s for s in snapshots if start <= s[0] < end]
            before = [s for s in snapshots if s[0] < start]
            if inside:
                base = before[-1][1] if before else inside[0][1]
                last = inside[-1][1]
                result.append(Bucket(start, last[0] - base[0], last[1] - base[1]))
            else:
                result.append(Bucket(start, 0.0, 0.0))
            start = end
        return result
