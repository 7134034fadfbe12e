"""An in-process StateStore: the reference behaviour, used by tests and single-process runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from aircraftml.state.base import Claim, ClaimStatus


@dataclass(frozen=True, slots=True)
class _Record:
    done: bool
    result: str | None
    expires_at_s: float | None  # None: never


class MemoryStateStore:
    """A StateStore held in a dict, thread-safe. See ``aircraftml.state.base``."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._records: dict[str, _Record] = {}
        self._lock = threading.Lock()

    def claim(self, key: str, ttl_s: float) -> Claim:
        now = self._clock()
        with self._lock:
            record = self._records.get(key)
            if record is not None and (record.expires_at_s is None or record.expires_at_s > now):
                if record.done:
                    return Claim(ClaimStatus.DONE, record.result)
                return Claim(ClaimStatus.IN_PROGRESS)
            self._records[key] = _Record(done=False, result=None, expires_at_s=now + ttl_s)
        return Claim(ClaimStatus.FRESH)

    def complete(self, key: str, result: str, keep_s: float | None = None) -> None:
        expires_at_s = None if keep_s is None else self._clock() + keep_s
        with self._lock:
            self._records[key] = _Record(done=True, result=result, expires_at_s=expires_at_s)

    def release(self, key: str) -> None:
        with self._lock:
            record = self._records.get(key)
            if record is not None and not record.done:
                del self._records[key]

    def purge_expired(self) -> int:
        """Forget expired keys (they would be claimed afresh anyway); returns how many."""
        now = self._clock()
        with self._lock:
            expired = [
                key
                for key, record in self._records.items()
                if record.expires_at_s is not None and record.expires_at_s <= now
            ]
            for key in expired:
                del self._records[key]
        return len(expired)

    def close(self) -> None:
        """Nothing to release; kept for the contract."""
