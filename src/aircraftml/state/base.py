"""The idempotency store contract: claim a key, complete it, or release it.

``claim`` is atomic across processes (and machines, for the distributed backends): of two
workers claiming one key at once, exactly one gets ``FRESH``. An in-progress claim expires
after its ``ttl_s`` so a crashed worker's key can be claimed again.

Nothing ties ``complete`` or ``release`` to the claim that made them: a worker that
overran its ``ttl_s`` can still complete a key that another worker has claimed since.
Pick ``ttl_s`` well above the slowest handling (and below the queue's redelivery).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol


class ClaimStatus(enum.Enum):
    FRESH = "fresh"  # the caller now owns the key and must complete or release it
    IN_PROGRESS = "in_progress"  # another worker owns it and its claim has not expired
    DONE = "done"  # completed earlier; ``result`` holds what was recorded


@dataclass(frozen=True, slots=True)
class Claim:
    status: ClaimStatus
    result: str | None = None


class StateStore(Protocol):
    def claim(self, key: str, ttl_s: float) -> Claim: ...

    def complete(self, key: str, result: str, keep_s: float | None = None) -> None:
        """Mark the key done, recording ``result`` (e.g. the reply's post id).

        Done for good when ``keep_s`` is None; otherwise the key can be claimed afresh
        ``keep_s`` seconds from now (for "at most once per window" keys).
        """
        ...

    def release(self, key: str) -> None:
        """Give up an in-progress claim so the key can be claimed again at once."""
        ...

    def close(self) -> None: ...


def once_per_window(store: StateStore, key: str, window_s: float) -> bool:
    """True the first time ``key`` is seen in a window of ``window_s`` seconds, else False.

    At most once: the key is marked done before the caller acts, so a caller that fails
    after a True will not be asked again before the window ends. For example, the help
    reply: ``if once_per_window(state, f"help:{user_id}", window_s=3600): send_help()``.
    """
    if store.claim(key, ttl_s=window_s).status is not ClaimStatus.FRESH:
        return False
    store.complete(key, "", keep_s=window_s)
    return True
