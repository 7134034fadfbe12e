"""The default StateStore: idempotency keys in one SQLite file, shared by worker processes.

``claim`` runs in ``BEGIN IMMEDIATE``: it reads the key and, when it is absent or expired,
writes the new in-progress claim while holding SQLite's write lock, so of several processes
claiming one key exactly one sees ``FRESH``. See ``aircraftml._sqlite`` for durability.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from aircraftml._sqlite import Database, Synchronous
from aircraftml.state.base import Claim, ClaimStatus

_SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS claims (
    key TEXT PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('in_progress', 'done')),
    result TEXT,
    expires_at_s REAL,
    updated_at_s REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS claims_by_expiry ON claims (expires_at_s)
    WHERE expires_at_s IS NOT NULL
"""

_UPSERT_SQL = """
INSERT INTO claims (key, status, result, expires_at_s, updated_at_s) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET
    status = excluded.status, result = excluded.result,
    expires_at_s = excluded.expires_at_s, updated_at_s = excluded.updated_at_s
"""


class SqliteStateStore:
    """A StateStore in the SQLite file at ``path`` (created if missing); one per process."""

    def __init__(
        self,
        path: Path,
        *,
        synchronous: Synchronous = "FULL",
        busy_timeout_s: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self._db = Database(
            path, _SCHEMA_SQL, synchronous=synchronous, busy_timeout_s=busy_timeout_s
        )

    @property
    def path(self) -> Path:
        return self._db.path

    def claim(self, key: str, ttl_s: float) -> Claim:
        now = self._clock()
        with self._db.write() as conn:
            row = conn.execute(
                "SELECT status, result FROM claims "
                "WHERE key = ? AND (expires_at_s IS NULL OR expires_at_s > ?)",
                (key, now),
            ).fetchone()
            if row is None:
                conn.execute(_UPSERT_SQL, (key, "in_progress", None, now + ttl_s, now))
                return Claim(ClaimStatus.FRESH)
        status, result = row
        if status == "done":
            return Claim(ClaimStatus.DONE, result)
        return Claim(ClaimStatus.IN_PROGRESS)

    def complete(self, key: str, result: str, keep_s: float | None = None) -> None:
        now = self._clock()
        expires_at_s = None if keep_s is None else now + keep_s
        with self._db.write() as conn:
            conn.execute(_UPSERT_SQL, (key, "done", result, expires_at_s, now))

    def release(self, key: str) -> None:
        with self._db.write() as conn:
            conn.execute("DELETE FROM claims WHERE key = ? AND status = 'in_progress'", (key,))

    def purge_expired(self) -> int:
        """Forget expired keys (they would be claimed afresh anyway); returns how many."""
        with self._db.write() as conn:
            cursor = conn.execute(
                "DELETE FROM claims WHERE expires_at_s IS NOT NULL AND expires_at_s <= ?",
                (self._clock(),),
            )
        return cursor.rowcount

    def close(self) -> None:
        self._db.close()
