"""The idempotency store contract: claim a key, complete it, or release it.

``claim`` is atomic across processes (and machines, for the distributed backends): of two
workers claiming one key at once, exactly one gets ``FRESH``. An in-progress claim expires
after its ``ttl_s`` so a crashed worker's key can be claimed again.
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

    def complete(self, key: str, result: str) -> None:
        """Mark the key done for good, recording ``result`` (e.g. the reply's post id)."""
        ...

    def release(self, key: str) -> None:
        """Give up an in-progress claim so the key can be claimed again at once."""
        ...

    def close(self) -> None: ...
