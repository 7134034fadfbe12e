"""The scheduled poller on AWS: EventBridge invokes ``poll_handler`` every minute; each
invocation polls every network in ``AIRCRAFTML_NETWORKS`` that has no webhook (Mastodon,
Bluesky) at the poll interval until less than ``STOP_BEFORE_END_S`` of its time is left,
queueing the mentions on SQS. The cursor and the queued claims are in DynamoDB, so two
invocations that overlap (a slow one and the next minute's) queue each mention once.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from aircraftml.assembly import build_pollers, build_queue, build_state
from aircraftml.aws.cloudwatch_metrics import EmfFlusher
from aircraftml.aws.lambdas import load_settings
from aircraftml.errors import AircraftMLError
from aircraftml.poller import Poller

logger = logging.getLogger(__name__)

STOP_BEFORE_END_S = 5.0
DEFAULT_BUDGET_S = 55.0  # without a Lambda context (tests, a manual run)


class PollFunction:
    def __init__(self, pollers: list[Poller], interval_s: float) -> None:
        self.pollers = pollers
        self.interval_s = interval_s

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], *, ssm_client: Any = None) -> PollFunction:
        settings = load_settings(environ, ssm_client=ssm_client)
        queue, state = build_queue(settings), build_state(settings)
        return cls(build_pollers(settings, state, queue.send), settings.poll_interval_s)

    def __call__(self, event: object = None, context: object = None) -> dict[str, int]:
        remaining_s = _time_left(context)
        queued = polls = 0
        while remaining_s() > STOP_BEFORE_END_S + self.interval_s:
            started = time.monotonic()
            for poller in self.pollers:
                try:
                    queued += poller.poll_once()
                except AircraftMLError as exc:  # the next poll (or minute) tries again
                    logger.warning("%s poller: %s", poller.network, exc)
            polls += 1
            time.sleep(max(0.0, self.interval_s - (time.monotonic() - started)))
        return {"polls": polls, "queued": queued}


def _time_left(context: object) -> Callable[[], float]:
    millis = getattr(context, "get_remaining_time_in_millis", None)
    if callable(millis):
        return lambda: float(millis()) / 1000
    deadline = time.monotonic() + DEFAULT_BUDGET_S
    return lambda: deadline - time.monotonic()


@functools.cache
def _poll_function() -> PollFunction:
    return PollFunction.from_environ(os.environ)


_poller_metrics = EmfFlusher("poller")


def poll_handler(event: object, context: object) -> dict[str, int]:
    """``aircraftml.aws.pollers.poll_handler``: the PollerFunction of template.yaml."""
    try:
        return _poll_function()(event, context)
    finally:
        _poller_metrics.flush()
