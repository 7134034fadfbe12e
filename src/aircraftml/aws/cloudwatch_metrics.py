"""The bot's metrics on AWS: what ``/metrics`` shows behind ``aircraftml serve``, written by
the Lambda functions as CloudWatch embedded metric format (EMF) log lines.

The counters and histograms are the same objects (``aircraftml.metrics``) and are counted
where the work happens, in the handler, the worker's verdicts and the platform clients.
A Lambda container has no scrape, so after each invocation ``EmfFlusher.flush`` prints
one JSON line with what each series gained since the last flush; CloudWatch Logs turns it
into metrics in the ``AircraftML`` namespace with a ``Function`` dimension, without any
API call from the function. Names are the Prometheus names without the ``aircraftml_``
prefix, each label value appended: ``mentions_total.replied``,
``platform_api_calls_total.x.200``; a histogram gives ``..._sum`` and ``..._count`` (the
dashboard divides them). Series that did not move are left out.

The format is three keys in a log line (``_aws``: timestamp, namespace, dimensions, the
metric names and units), documented by AWS ("Embedded metric format specification"); AWS's
``aws-embedded-metrics`` library would add an asyncio flush and environment probing for
what ``print`` does here.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable
from typing import TextIO

from prometheus_client import REGISTRY
from prometheus_client.registry import Collector

NAMESPACE = "AircraftML"
PREFIX = "aircraftml_"
_SECONDS_SUFFIXES = ("_seconds_sum",)


class EmfFlusher:
    """Prints what the bot's metrics gained since the last flush, as one EMF line."""

    def __init__(
        self,
        function: str,
        *,
        registry: Collector = REGISTRY,
        out: TextIO | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._function = function
        self._registry = registry
        self._out = out
        self._clock = clock
        self._last: dict[str, float] = {}

    def flush(self) -> dict[str, object] | None:
        """The record printed (None when nothing moved)."""
        totals = dict(_series(self._registry))
        gained = {
            name: value - self._last.get(name, 0.0)
            for name, value in totals.items()
            if value != self._last.get(name, 0.0)
        }
        self._last = totals
        if not gained:
            return None
        record: dict[str, object] = {
            "_aws": {
                "Timestamp": int(self._clock() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": NAMESPACE,
                        "Dimensions": [["Function"]],
                        "Metrics": [{"Name": name, "Unit": _unit(name)} for name in gained],
                    }
                ],
            },
            "Function": self._function,
            **gained,
        }
        print(json.dumps(record), file=self._out or sys.stdout, flush=True)
        return record


def _series(registry: Collector) -> Iterable[tuple[str, float]]:
    """``(name, running total)`` for every counter and histogram series of the bot."""
    for family in registry.collect():
        if not family.name.startswith(PREFIX) or family.type not in ("counter", "histogram"):
            continue
        for sample in family.samples:
            if sample.name.endswith(("_created", "_bucket")):
                continue
            name = sample.name.removeprefix(PREFIX)
            values = [v for k, v in sample.labels.items() if k != "le"]
            yield ".".join([name, *values]), float(sample.value)


def _unit(name: str) -> str:
    return "Seconds" if name.split(".")[0].endswith(_SECONDS_SUFFIXES) else "Count"
