"""Log lines that a flood could repeat thousands of times a second, at most once per interval.

A burst of refused webhook requests or idle connections must leave a trace without filling
the disk (uvicorn's tracebacks grew a log by 43 MB in 20 s): the first line of a kind is
logged at once, the others within ``interval_s`` are counted and reported with the next.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable


class ThrottledLog:
    def __init__(
        self,
        logger: logging.Logger,
        *,
        interval_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._interval_s = interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._last_s: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, kind: str, message: str, *args: object) -> None:
        """Log ``message % args`` unless a line of ``kind`` was logged within the interval."""
        now = self._clock()
        with self._lock:
            last_s = self._last_s.get(kind)
            if last_s is not None and now - last_s < self._interval_s:
                self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
                return
            self._last_s[kind] = now
            suppressed = self._suppressed.pop(kind, 0)
        if suppressed:
            message += f" (and {suppressed} more like it in the last {self._interval_s:.0f} s)"
        self._logger.warning(message, *args)
