"""Take requests off the queue and hand them to the handler; map the outcome onto the queue.

This is the one place where errors become queue actions (``judge`` decides, ``settle``
applies); ``aircraftml worker`` and the SQS Lambda function (``aws.lambdas``) share it:

    handled                     -> Done: ack
    RateLimited(until)          -> WaitFor the reset time (deferred: no try spent), and every
                                   worker sharing the state pauses until then
    Busy(until)                 -> WaitFor the other worker's claim to end (no try spent)
    TransientError              -> RetryLater after a capped exponential backoff
    PermanentError              -> DeadLetterNow, with the reason
    a message that is not JSON  -> DeadLetterNow ("malformed request")
    any other exception         -> RetryLater with backoff; the queue dead-letters it after
                                   ``max_receives`` tries, keeping the last error
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from aircraftml.domain import Request
from aircraftml.errors import PermanentError, RateLimited, TransientError
from aircraftml.handler import Busy, Handled
from aircraftml.heartbeat import Heartbeat
from aircraftml.metrics import MENTIONS, RATE_LIMIT_WAITS
from aircraftml.queue.base import Message, RequestQueue

logger = logging.getLogger(__name__)

BUSY_MARGIN_S = 0.5  # look again just after another worker's claim runs out


class Answers(Protocol):
    """What a worker needs of the handler: ``Handler`` (one network) or ``HandlerRouter``
    (every network in the settings, each request to its own network's handler)."""

    @property
    def max_handling_s(self) -> float: ...

    def rate_limited_until(self) -> float: ...

    def handle(self, request: Request, *, earlier_tries: int = 0) -> Handled: ...


def backoff_delay_s(receive_count: int, *, base_s: float = 2.0, cap_s: float = 300.0) -> float:
    """2, 4, 8 ... seconds after the 1st, 2nd, 3rd ... failed try, never more than ``cap_s``."""
    return float(min(cap_s, base_s * 2 ** max(receive_count - 1, 0)))


@dataclass(frozen=True, slots=True)
class Done:
    """Handled (or already handled): delete the message."""


@dataclass(frozen=True, slots=True)
class RetryLater:
    """The try failed: try again in ``delay_s`` (the queue counts the try)."""

    delay_s: float
    reason: str


@dataclass(frozen=True, slots=True)
class WaitFor:
    """Not a failure of the work (a rate limit, another worker's claim): back in ``delay_s``,
    spending no try."""

    delay_s: float
    reason: str


@dataclass(frozen=True, slots=True)
class DeadLetterNow:
    """Retrying will not help: move the message to the dead-letter queue with ``reason``."""

    reason: str


Verdict = Done | RetryLater | WaitFor | DeadLetterNow


def judge(
    handler: Answers,
    message: Message,
    clock: Callable[[], float] = time.time,
    *,
    max_receives: int | None = None,
) -> Verdict:
    """Handle one message and say what the queue should do with it. Never raises Exception.

    ``max_receives`` (when the queue's is known) only changes what is logged: a failed last
    try is said to be dead-lettered, not to be retried."""
    try:
        request = Request.from_json(message.body)
    except (ValueError, TypeError, KeyError) as exc:
        logger.error("message %s: malformed request: %s", message.id, exc)
        return DeadLetterNow(f"malformed request: {exc}")
    try:
        handler.handle(request, earlier_tries=message.receive_count - 1)
    except Exception as exc:
        return verdict_for_error(
            exc,
            message.receive_count,
            clock(),
            post_id=request.post_id,
            max_receives=max_receives,
        )
    return Done()


def verdict_for_error(
    exc: Exception,
    receive_count: int,
    now_epoch_s: float,
    *,
    post_id: str = "?",
    max_receives: int | None = None,
) -> RetryLater | WaitFor | DeadLetterNow:
    """What a failure of the ``receive_count``-th try means for the message (and logs it)."""
    if isinstance(exc, RateLimited):
        RATE_LIMIT_WAITS.inc()
        MENTIONS.labels(outcome="waiting for the rate limit").inc()
        wait_s = max(exc.until_epoch_s - now_epoch_s, 1.0)
        logger.warning("post %s: rate limited, waiting %.1f s: %s", post_id, wait_s, exc)
        return WaitFor(wait_s, f"rate limited: {exc}")
    if isinstance(exc, Busy):
        wait_s = max(exc.until_epoch_s - now_epoch_s, 0.0) + BUSY_MARGIN_S
        logger.info("post %s: claimed by another worker, waiting %.1f s", post_id, wait_s)
        return WaitFor(wait_s, str(exc))
    delay_s = backoff_delay_s(receive_count)
    if isinstance(exc, PermanentError):
        MENTIONS.labels(outcome="dead-lettered").inc()
        logger.error("post %s: dead-lettered: %s", post_id, exc)
        return DeadLetterNow(f"{type(exc).__name__}: {exc}")
    unexpected = not isinstance(exc, TransientError)
    reason = f"{type(exc).__name__}: {exc}" if unexpected else str(exc)
    last_try = max_receives is not None and receive_count >= max_receives
    MENTIONS.labels(outcome="dead-lettered" if last_try else "retry").inc()
    if last_try:
        # the queue dead-letters a message retried after its last try
        logger.error(
            "post %s: try %d of %d failed, dead-lettered: %s",
            post_id,
            receive_count,
            max_receives,
            reason,
            exc_info=exc if unexpected else None,
        )
    elif unexpected:
        logger.error("post %s: unexpected error, retry in %.0f s", post_id, delay_s, exc_info=exc)
    else:
        logger.warning("post %s: will retry in %.0f s: %s", post_id, delay_s, exc)
    return RetryLater(delay_s, reason)


def settle(queue: RequestQueue, message: Message, verdict: Verdict) -> None:
    """Apply ``verdict`` to the message on ``queue``."""
    if isinstance(verdict, Done):
        queue.ack(message)
    elif isinstance(verdict, RetryLater):
        queue.retry(message, delay_s=verdict.delay_s, reason=verdict.reason)
    elif isinstance(verdict, WaitFor):
        queue.defer(message, delay_s=verdict.delay_s, reason=verdict.reason)
    else:
        queue.dead_letter(message, verdict.reason)


class Worker:
    def __init__(
        self,
        queue: RequestQueue,
        handler: Answers,
        *,
        visibility_timeout_s: float = 120.0,
        wait_s: float = 1.0,
        max_receives: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._queue = queue
        self._max_receives = max_receives
        self._handler = handler
        self._visibility_timeout_s = visibility_timeout_s
        self._wait_s = wait_s
        self._clock = clock

    def run(self, stop: threading.Event) -> None:
        """Work until ``stop`` is set; the request in hand is finished first. While the
        platform's rate limit is closed (for any worker), take no work."""
        while not stop.is_set():
            paused_s = self._handler.rate_limited_until() - self._clock()
            if paused_s > 0:
                stop.wait(paused_s)
                continue
            self.run_once()

    def run_once(self) -> int:
        """Receive and process at most one message; returns how many were processed."""
        messages = self._queue.receive(
            max_messages=1, wait_s=self._wait_s, visibility_timeout_s=self._visibility_timeout_s
        )
        for message in messages:
            self.process(message)
        return len(messages)

    def process(self, message: Message) -> None:
        settle(self._queue, message, self.judge(message))

    def judge(self, message: Message) -> Verdict:
        """``judge`` the message, unless the platform's rate limit is closed: then wait for it
        (no try spent). While it is handled the message is kept invisible (extended every
        third of the visibility timeout, for the handler's ``max_handling_s`` and one more
        timeout at most: a hung worker lets it go).
        Lambda containers get this from ``SqsFunction``."""
        paused_s = self._handler.rate_limited_until() - self._clock()
        if paused_s > 0:
            RATE_LIMIT_WAITS.inc()
            return WaitFor(paused_s, "rate limited: waiting for the window to reopen")
        with self._kept_invisible(message):
            return judge(self._handler, message, self._clock, max_receives=self._max_receives)

    def _kept_invisible(self, message: Message) -> Heartbeat:
        timeout_s = self._visibility_timeout_s
        return Heartbeat(
            lambda: self._queue.extend(message, visibility_timeout_s=timeout_s),
            interval_s=timeout_s / 3,
            stop_at_s=time.monotonic() + self._handler.max_handling_s + timeout_s,
            what=f"message {message.id}",
        )
