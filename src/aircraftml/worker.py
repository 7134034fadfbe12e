"""Take requests off the queue and hand them to the handler; map the outcome onto the queue.

This is the one place where errors become queue actions:

    handled                     -> ack
    RateLimited(until)          -> retry at the reset time, and pause this worker until then
    TransientError              -> retry after a capped exponential backoff
    PermanentError              -> dead-letter now, with the reason
    a message that is not JSON  -> dead-letter now ("malformed request")
    any other exception         -> retry with backoff; the queue dead-letters it after
                                   ``max_receives`` tries, keeping the last error
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from aircraftml.domain import Request
from aircraftml.errors import PermanentError, RateLimited, TransientError
from aircraftml.handler import Handler
from aircraftml.queue.base import Message, RequestQueue

logger = logging.getLogger(__name__)


def backoff_delay_s(receive_count: int, *, base_s: float = 2.0, cap_s: float = 300.0) -> float:
    """2, 4, 8 ... seconds after the 1st, 2nd, 3rd ... failed try, never more than ``cap_s``."""
    return float(min(cap_s, base_s * 2 ** max(receive_count - 1, 0)))


class Worker:
    def __init__(
        self,
        queue: RequestQueue,
        handler: Handler,
        *,
        visibility_timeout_s: float = 120.0,
        wait_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._queue = queue
        self._handler = handler
        self._visibility_timeout_s = visibility_timeout_s
        self._wait_s = wait_s
        self._clock = clock
        self._resume_at_s = 0.0  # set when the platform rate-limits us

    def run(self, stop: threading.Event) -> None:
        """Work until ``stop`` is set; the request in hand is finished first."""
        while not stop.is_set():
            paused_s = self._resume_at_s - self._clock()
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
        try:
            request = Request.from_json(message.body)
        except (ValueError, TypeError, KeyError) as exc:
            self._queue.dead_letter(message, f"malformed request: {exc}")
            return
        try:
            self._handler.handle(request)
        except RateLimited as exc:
            wait_s = max(exc.until_epoch_s - self._clock(), 1.0)
            logger.warning("post %s: rate limited for %.0f s: %s", request.post_id, wait_s, exc)
            self._queue.retry(message, delay_s=wait_s, reason=f"rate limited: {exc}")
            self._resume_at_s = exc.until_epoch_s
        except TransientError as exc:
            delay_s = backoff_delay_s(message.receive_count)
            logger.warning("post %s: will retry in %.0f s: %s", request.post_id, delay_s, exc)
            self._queue.retry(message, delay_s=delay_s, reason=str(exc))
        except PermanentError as exc:
            logger.error("post %s: dead-lettered: %s", request.post_id, exc)
            self._queue.dead_letter(message, f"{type(exc).__name__}: {exc}")
        except Exception as exc:
            delay_s = backoff_delay_s(message.receive_count)
            logger.exception("post %s: unexpected error, retry in %.0f s", request.post_id, delay_s)
            self._queue.retry(message, delay_s=delay_s, reason=f"{type(exc).__name__}: {exc}")
        else:
            self._queue.ack(message)
