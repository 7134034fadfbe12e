"""Keep a lease alive while slow work runs: call ``beat`` every ``interval_s`` on a thread.

The worker keeps its message invisible (``queue.extend``) and the handler keeps its claim
(``state.renew``) this way, so a mention that takes longer than the visibility timeout is
not taken by a second worker while the first still answers it. Beats stop when the work
ends, and at ``stop_at_s`` (on ``clock``) at the latest: a worker that hangs lets its
lease run out, and another worker takes over.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType

logger = logging.getLogger(__name__)


class Heartbeat:
    """``with Heartbeat(beat, interval_s, stop_at_s, what): work()``; errors in a beat are
    logged and the next beat tries again."""

    def __init__(
        self,
        beat: Callable[[], object],
        *,
        interval_s: float,
        stop_at_s: float,
        what: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._beat = beat
        self._clock = clock
        self._interval_s = interval_s
        self._stop_at_s = stop_at_s
        self._what = what
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat {what}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._done.wait(self._interval_s):
            if self._clock() >= self._stop_at_s:
                logger.warning("%s: still running at its time limit; no longer kept", self._what)
                return
            try:
                self._beat()
            except Exception as exc:  # a beat must never kill the work it keeps alive
                logger.warning("%s: keep-alive failed: %s", self._what, exc)
