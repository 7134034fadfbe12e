"""One polling loop per network without webhooks: notifications become requests on the
same queue the webhook feeds; the same workers answer them.

Safe to run on several machines at once: the cursor is a state record (``cursor``, by
network) that only moves forward and only after the requests are queued, so a restart
neither loses nor redoes mentions; each mention is queued once, guarded by the claim
``<network>:queued:<post id>`` in the shared state store, so two pollers that see the same
notification queue it once (and the handler's own claim would still answer it once).

    RateLimited(until)  -> sleep until the reset
    TransientError      -> try again after a capped backoff
    PermanentError      -> logged (a revoked token...), tried again after the cap
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from aircraftml.domain import Request
from aircraftml.errors import AircraftMLError, RateLimited
from aircraftml.state.base import ClaimStatus, StateStore
from aircraftml.worker import backoff_delay_s

logger = logging.getLogger(__name__)

CURSOR = "cursor"  # the state record kind of each network's cursor
QUEUED_CLAIM_TTL_S = 60.0
QUEUED_KEEP_S = 14 * 86400.0  # long past any notification a cursor could fetch again
BACKOFF_CAP_S = 60.0


class MentionSource(Protocol):
    name: str

    def poll(self, cursor: str | None) -> tuple[list[Request], str | None]:
        """The answerable mentions after ``cursor`` and the cursor past them."""
        ...

    def is_after(self, cursor: str, other: str) -> bool: ...


class Poller:
    def __init__(
        self,
        source: MentionSource,
        state: StateStore,
        enqueue: Callable[[Sequence[str]], object],
        *,
        interval_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._source = source
        self._state = state
        self._enqueue = enqueue
        self._interval_s = interval_s
        self._clock = clock

    @property
    def network(self) -> str:
        return self._source.name

    @property
    def cursor(self) -> str | None:
        return self._state.get_record(CURSOR, self._source.name)

    def poll_once(self) -> int:
        """Fetch what is new, queue each mention not queued yet; how many were queued."""
        requests, cursor = self._source.poll(self.cursor)
        queued = self._queue_new(requests)
        self._advance(cursor)
        return queued

    def run(self, stop: threading.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                queued = self.poll_once()
            except RateLimited as exc:
                wait_s = max(exc.until_epoch_s - self._clock(), 1.0)
                logger.warning("%s poller: rate limited, waiting %.1f s", self._source.name, wait_s)
                stop.wait(wait_s)
                continue
            except AircraftMLError as exc:
                failures += 1
                wait_s = backoff_delay_s(failures, base_s=self._interval_s, cap_s=BACKOFF_CAP_S)
                logger.warning("%s poller: %s; again in %.0f s", self._source.name, exc, wait_s)
                stop.wait(wait_s)
                continue
            failures = 0
            if queued:
                logger.info("%s poller: %d mention(s) queued", self._source.name, queued)
            stop.wait(self._interval_s)

    def _queue_new(self, requests: Sequence[Request]) -> int:
        claims: list[tuple[str, str]] = []
        bodies = []
        for request in requests:
            key = f"{request.platform}:queued:{request.post_id}"
            claim = self._state.claim(key, ttl_s=QUEUED_CLAIM_TTL_S)
            if claim.status is ClaimStatus.FRESH:
                claims.append((key, claim.token or ""))
                bodies.append(request.to_json())
        if not bodies:
            return 0
        try:
            self._enqueue(bodies)
        except BaseException:
            for key, token in claims:
                self._state.release(key, token=token)
            raise
        for key, token in claims:
            self._state.complete(key, "queued", keep_s=QUEUED_KEEP_S, token=token)
        return len(bodies)

    def _advance(self, cursor: str | None) -> None:
        if cursor is None:
            return
        current = self.cursor
        if current is None or self._source.is_after(cursor, current):
            self._state.put_record(CURSOR, self._source.name, cursor)
