"""An in-process StateStore: the reference behaviour, used by tests and single-process runs."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from aircraftml.state.base import Claim, ClaimStatus


@dataclass(frozen=True, slots=True)
class _Record:
    done: bool
    result: str | None
    expires_at_s: float | None  # None: never
    token: str | None = None  # the owner of an in-progress claim


class MemoryStateStore:
    """A StateStore held in a dict, thread-safe. See ``aircraftml.state.base``."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._records: dict[str, _Record] = {}
        self._pauses: dict[str, float] = {}
        self._lock = threading.Lock()
        self._kept: dict[tuple[str, str], str] = {}

    def claim(self, key: str, ttl_s: float) -> Claim:
        now = self._clock()
        with self._lock:
            record = self._records.get(key)
            if record is not None and _live(record, now):
                if record.done:
                    return Claim(ClaimStatus.DONE, record.result)
                return Claim(ClaimStatus.IN_PROGRESS, expires_at_epoch_s=record.expires_at_s)
            token = uuid.uuid4().hex
            self._records[key] = _Record(False, None, now + ttl_s, token)
        return Claim(ClaimStatus.FRESH, token=token)

    def renew(self, key: str, token: str, ttl_s: float) -> bool:
        with self._lock:
            if not self._owned(key, token):
                return False
            self._records[key] = _Record(False, None, self._clock() + ttl_s, token)
        return True

    def complete(
        self, key: str, result: str, keep_s: float | None = None, token: str | None = None
    ) -> bool:
        expires_at_s = None if keep_s is None else self._clock() + keep_s
        with self._lock:
            if token is not None and not self._owned(key, token):
                return False
            self._records[key] = _Record(done=True, result=result, expires_at_s=expires_at_s)
        return True

    def release(self, key: str, token: str | None = None) -> None:
        with self._lock:
            record = self._records.get(key)
            if record is None or record.done:
                return
            if token is None or record.token == token:
                del self._records[key]

    def pause(self, name: str, until_epoch_s: float) -> None:
        with self._lock:
            self._pauses[name] = max(self._pauses.get(name, 0.0), until_epoch_s)

    def paused_until(self, name: str) -> float:
        with self._lock:
            return self._pauses.get(name, 0.0)

    def put_record(self, kind: str, key: str, value: str) -> None:
        with self._lock:
            self._kept[(kind, key)] = value

    def get_record(self, kind: str, key: str) -> str | None:
        with self._lock:
            return self._kept.get((kind, key))

    def delete_record(self, kind: str, key: str) -> None:
        with self._lock:
            self._kept.pop((kind, key), None)

    def records(self, kind: str) -> list[tuple[str, str]]:
        with self._lock:
            return sorted((key, value) for (k, key), value in self._kept.items() if k == kind)

    def purge_expired(self) -> int:
        """Forget expired keys (they would be claimed afresh anyway); returns how many."""
        now = self._clock()
        with self._lock:
            expired = [key for key, record in self._records.items() if not _live(record, now)]
            for key in expired:
                del self._records[key]
        return len(expired)

    def close(self) -> None:
        """Nothing to release; kept for the contract."""

    def _owned(self, key: str, token: str) -> bool:
        """The key's record is our in-progress claim (expired or not, nobody took it since)."""
        record = self._records.get(key)
        return record is not None and not record.done and record.token == token


def _live(record: _Record, now: float) -> bool:
    return record.expires_at_s is None or record.expires_at_s > now
