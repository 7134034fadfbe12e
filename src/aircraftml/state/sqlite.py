"""The default StateStore: idempotency keys in one SQLite file, shared by worker processes.

``claim`` runs in ``BEGIN IMMEDIATE``: it reads the key and, when it is absent or expired,
writes the new in-progress claim while holding SQLite's write lock, so of several processes
claiming one key exactly one sees ``FRESH``. ``renew``, and ``complete``/``release`` given a
token, match on (key, token). Pauses live in their own table. See ``aircraftml._sqlite`` for
durability. Files made before claims had tokens get the column added on open.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
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
    updated_at_s REAL NOT NULL,
    token TEXT
);
CREATE INDEX IF NOT EXISTS claims_by_expiry ON claims (expires_at_s)
    WHERE expires_at_s IS NOT NULL;
CREATE TABLE IF NOT EXISTS pauses (
    name TEXT PRIMARY KEY,
    until_s REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (kind, key)
)
"""

_UPSERT_SQL = """
INSERT INTO claims (key, status, result, expires_at_s, updated_at_s, token)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET
    status = excluded.status, result = excluded.result, expires_at_s = excluded.expires_at_s,
    updated_at_s = excluded.updated_at_s, token = excluded.token
"""

_OWNED_SQL = "key = ? AND status = 'in_progress' AND token = ?"


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
        with self._db.write() as conn:
            _add_token_column(conn)

    @property
    def path(self) -> Path:
        return self._db.path

    def claim(self, key: str, ttl_s: float) -> Claim:
        now = self._clock()
        with self._db.write() as conn:
            row = conn.execute(
                "SELECT status, result, expires_at_s FROM claims "
                "WHERE key = ? AND (expires_at_s IS NULL OR expires_at_s > ?)",
                (key, now),
            ).fetchone()
            if row is None:
                token = uuid.uuid4().hex
                conn.execute(_UPSERT_SQL, (key, "in_progress", None, now + ttl_s, now, token))
                return Claim(ClaimStatus.FRESH, token=token)
        status, result, expires_at_s = row
        if status == "done":
            return Claim(ClaimStatus.DONE, result)
        return Claim(ClaimStatus.IN_PROGRESS, expires_at_epoch_s=expires_at_s)

    def renew(self, key: str, token: str, ttl_s: float) -> bool:
        now = self._clock()
        with self._db.write(durable=False) as conn:
            cursor = conn.execute(
                f"UPDATE claims SET expires_at_s = ?, updated_at_s = ? WHERE {_OWNED_SQL}",
                (now + ttl_s, now, key, token),
            )
        return cursor.rowcount == 1

    def complete(
        self, key: str, result: str, keep_s: float | None = None, token: str | None = None
    ) -> bool:
        now = self._clock()
        expires_at_s = None if keep_s is None else now + keep_s
        with self._db.write() as conn:
            if token is not None:
                owned = conn.execute(f"SELECT 1 FROM claims WHERE {_OWNED_SQL}", (key, token))
                if owned.fetchone() is None:
                    return False
            conn.execute(_UPSERT_SQL, (key, "done", result, expires_at_s, now, None))
        return True

    def release(self, key: str, token: str | None = None) -> None:
        with self._db.write() as conn:
            if token is None:
                conn.execute("DELETE FROM claims WHERE key = ? AND status = 'in_progress'", (key,))
            else:
                conn.execute(f"DELETE FROM claims WHERE {_OWNED_SQL}", (key, token))

    def pause(self, name: str, until_epoch_s: float) -> None:
        with self._db.write(durable=False) as conn:
            conn.execute(
                "INSERT INTO pauses (name, until_s) VALUES (?, ?) ON CONFLICT (name) "
                "DO UPDATE SET until_s = max(until_s, excluded.until_s)",
                (name, until_epoch_s),
            )

    def paused_until(self, name: str) -> float:
        with self._db.read() as conn:
            row = conn.execute("SELECT until_s FROM pauses WHERE name = ?", (name,)).fetchone()
        return 0.0 if row is None else float(row[0])

    def put_record(self, kind: str, key: str, value: str) -> None:
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO records (kind, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value",
                (kind, key, value),
            )

    def get_record(self, kind: str, key: str) -> str | None:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT value FROM records WHERE kind = ? AND key = ?", (kind, key)
            ).fetchone()
        return None if row is None else str(row[0])

    def delete_record(self, kind: str, key: str) -> None:
        with self._db.write() as conn:
            conn.execute("DELETE FROM records WHERE kind = ? AND key = ?", (kind, key))

    def records(self, kind: str) -> list[tuple[str, str]]:
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT key, value FROM records WHERE kind = ? ORDER BY key", (kind,)
            ).fetchall()
        return [(str(key), str(value)) for key, value in rows]

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


def _add_token_column(conn: sqlite3.Connection) -> None:
    """Files made before claims had owner tokens: add the column (empty for old claims)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(claims)")}
    if "token" not in columns:
        conn.execute("ALTER TABLE claims ADD COLUMN token TEXT")
