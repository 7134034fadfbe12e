"""What the fakes of the open networks (Mastodon, Bluesky) share: a clock, one lock over
their state, the faults waiting to happen, and per-account rate-limit windows. Each fake
says in its own words what a window looks like on the wire (headers, the 429's body)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from aircraftml.fakes.faults import FaultKind, Faults


@dataclass(slots=True)
class RateWindow:
    """One account's fixed window for one group of calls."""

    limit: int
    window_s: float
    started: float = 0.0
    used: int = 0

    @property
    def resets_at(self) -> float:
        return self.started + self.window_s

    @property
    def remaining(self) -> int:
        return self.limit - self.used


class FakeNetwork:
    def __init__(
        self, clock: Callable[[], float], rate_limits: Mapping[str, tuple[int, float]]
    ) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self._limits = dict(rate_limits)
        self._windows: dict[tuple[str, str], RateWindow] = {}
        self.faults = Faults()
        self.base_url = "http://127.0.0.1"

    # --- the Python API for tests and demos ----------------------------------------------

    def set_public_base_url(self, url: str) -> None:
        self.base_url = url.rstrip("/")

    def inject_fault(
        self,
        pattern: str,
        kind: FaultKind,
        *,
        count: int = 1,
        delay_s: float = 0.0,
        reset_after_s: float = 1.0,
        method: str | None = None,
    ) -> None:
        self.faults.inject(
            pattern,
            kind,
            count=count,
            delay_s=delay_s,
            reset_after_s=reset_after_s,
            method=method,
        )

    def set_rate_limit(self, group: str, limit: int, window_s: float) -> None:
        """``limit`` calls of ``group`` per ``window_s`` for each account, from now on."""
        with self._lock:
            self._limits[group] = (limit, window_s)
            self._windows = {k: w for k, w in self._windows.items() if k[1] != group}

    # --- model (the routes use these) ----------------------------------------------------

    def now(self) -> float:
        return self._clock()

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def count_call(self, account: str, group: str) -> tuple[RateWindow, bool]:
        """Count one call of ``account`` against ``group``: its window (a copy, as it stands
        after this call), and whether the call is allowed (one over the limit is not
        counted)."""
        limit, window_s = self._limits[group]
        now = self._clock()
        with self._lock:
            window = self._windows.setdefault((account, group), RateWindow(limit, window_s))
            if now >= window.resets_at:
                window.started, window.used = now, 0
            allowed = window.used < limit
            if allowed:
                window.used += 1
            return RateWindow(window.limit, window.window_s, window.started, window.used), allowed
