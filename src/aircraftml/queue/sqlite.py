"""The default RequestQueue: one SQLite file, safe for several worker processes at once.

Messages live in ``messages`` until acked; a message is visible when ``visible_at_s`` has
passed. ``receive`` claims visible messages in one ``BEGIN IMMEDIATE`` transaction: it
gives each a new receipt, raises its receive count and hides it for the visibility
timeout. ``ack``/``retry``/``defer``/``extend``/``dead_letter`` match on (id, receipt), so a stale
receipt (the timeout passed and another consumer received the message) changes nothing.

A message whose receive count has reached ``max_receives`` is moved to ``dead_letters``
when it is retried, or when it would be received again, with the reason
"gave up after N tries: <last error>".

Durability: ``send`` returns after its COMMIT, which with ``synchronous=FULL`` has fsynced
the WAL: the message survives a power cut. Concurrent sends from one process's threads
share one transaction and one fsync (group commit), so a webhook answering many deliveries
at once pays for the disk's fsync rate, not once per delivery. The bookkeeping writes
(receive, ack, retry, defer, extend, dead_letter) commit with ``synchronous=NORMAL``: a power cut
may undo the last of them, which means a message delivered once more (at-least-once allows
it; the handler's idempotency key catches it), never a message lost. A kill -9 of any
process loses nothing; the messages a killed worker held come back when their visibility
timeout passes. ``receive(wait_s>0)`` long-polls: it sleeps on a
condition that this object's own writes notify and, every ``poll_interval_s``, reads
``PRAGMA data_version`` (no lock taken) to notice other processes' commits; it tries to
claim again only when something changed or a hidden message becomes due.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from aircraftml._sqlite import Database, Synchronous, tables_in
from aircraftml.errors import ConfigError
from aircraftml.queue.base import DeadLetter, Message, QueueStats, give_up_reason

logger = logging.getLogger(__name__)

_SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    sent_at_s REAL NOT NULL,
    visible_at_s REAL NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS messages_by_visible_at ON messages (visible_at_s);
CREATE TABLE IF NOT EXISTS dead_letters (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    sent_at_s REAL NOT NULL,
    receive_count INTEGER NOT NULL,
    reason TEXT NOT NULL,
    dead_at_s REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_by_dead_at ON dead_letters (dead_at_s)
"""

_MAX_IDS_PER_STATEMENT = 500  # well under SQLite's limit on bound parameters

_REDRIVE_SQL = """
INSERT INTO messages (id, body, sent_at_s, visible_at_s)
SELECT id, body, sent_at_s, ? FROM dead_letters
"""


QUEUE_TABLES = frozenset({"messages", "dead_letters"})


class SqliteQueue:
    """A RequestQueue in the SQLite file at ``path`` (created if missing).

    Open one per process (or share one between a process's threads); several processes may
    open the same file. ``synchronous="NORMAL"`` makes sends cheaper but lets a power cut
    undo the last ones; ``poll_interval_s`` bounds how late a long poll notices another
    process's send.
    """

    def __init__(
        self,
        path: Path,
        *,
        max_receives: int = 5,
        synchronous: Synchronous = "FULL",
        busy_timeout_s: float = 10.0,
        poll_interval_s: float = 0.01,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_receives < 1:
            raise ValueError(f"max_receives must be >= 1, got {max_receives}")
        self._max_receives = max_receives
        self._poll_interval_s = poll_interval_s
        self._clock = clock
        self._db = Database(
            path, _SCHEMA_SQL, synchronous=synchronous, busy_timeout_s=busy_timeout_s
        )
        self._changed = threading.Condition()
        self._changes = 0
        self._sends = _GroupCommit(self._insert)

    @classmethod
    def open_existing(cls, path: Path, **options: Any) -> SqliteQueue:
        """The queue in an existing queue file; ConfigError for a missing file or one that
        is no queue (the state file...), left untouched: no table is created in it."""
        if not path.is_file():
            raise ConfigError(f"no queue file at {path}")
        tables = tables_in(path)
        if not tables >= QUEUE_TABLES:
            found = ", ".join(sorted(tables)) or "none"
            raise ConfigError(f"{path} is not a queue file (its tables: {found})")
        return cls(path, **options)

    @property
    def path(self) -> Path:
        return self._db.path

    def send(self, bodies: Sequence[str], delay_s: float = 0.0) -> list[str]:
        if not bodies:
            return []
        if not all(isinstance(body, str) for body in bodies):
            raise TypeError("message bodies must be str")
        now = self._clock()
        rows = [(uuid.uuid4().hex, body, now, now + max(0.0, delay_s)) for body in bodies]
        self._sends.commit(rows)
        self._notify()
        return [row[0] for row in rows]

    def receive(
        self, max_messages: int = 1, wait_s: float = 0.0, visibility_timeout_s: float = 30.0
    ) -> list[Message]:
        if max_messages < 1:
            raise ValueError(f"max_messages must be >= 1, got {max_messages}")
        deadline = time.monotonic() + wait_s
        while True:
            version, changes = self._db.data_version(), self._changes
            messages = self._take(max_messages, visibility_timeout_s)
            if messages or not self._wait_for_change(version, changes, deadline):
                return messages

    def ack(self, message: Message) -> None:
        with self._db.write(durable=False) as conn:
            cursor = conn.execute(
                "DELETE FROM messages WHERE id = ? AND receipt = ?", (message.id, message.receipt)
            )
        if cursor.rowcount == 0:
            logger.info("ack of message %s ignored: stale receipt", message.id)

    def retry(self, message: Message, delay_s: float, reason: str) -> None:
        now = self._clock()
        with self._db.write(durable=False) as conn:
            row = conn.execute(
                "SELECT receive_count FROM messages WHERE id = ? AND receipt = ?",
                (message.id, message.receipt),
            ).fetchone()
            if row is None:
                logger.info("retry of message %s ignored: stale receipt", message.id)
                return
            if row[0] >= self._max_receives:
                _bury(conn, message.id, give_up_reason(row[0], reason), now)
                return
            conn.execute(
                "UPDATE messages SET visible_at_s = ?, receipt = NULL, last_error = ? WHERE id = ?",
                (now + max(0.0, delay_s), reason, message.id),
            )
        self._notify()

    def defer(self, message: Message, delay_s: float, reason: str) -> None:
        with self._db.write(durable=False) as conn:
            cursor = conn.execute(
                "UPDATE messages SET visible_at_s = ?, receipt = NULL,"
                " receive_count = max(receive_count - 1, 0) WHERE id = ? AND receipt = ?",
                (self._clock() + max(0.0, delay_s), message.id, message.receipt),
            )
        if cursor.rowcount == 0:
            logger.info("defer of message %s ignored: stale receipt", message.id)
            return
        logger.info("message %s deferred %.1f s: %s", message.id, delay_s, reason)
        self._notify()

    def extend(self, message: Message, visibility_timeout_s: float) -> None:
        with self._db.write(durable=False) as conn:
            cursor = conn.execute(
                "UPDATE messages SET visible_at_s = ? WHERE id = ? AND receipt = ?",
                (self._clock() + visibility_timeout_s, message.id, message.receipt),
            )
        if cursor.rowcount == 0:
            logger.info("extend of message %s ignored: stale receipt", message.id)

    def dead_letter(self, message: Message, reason: str) -> None:
        with self._db.write(durable=False) as conn:
            owned = conn.execute(
                "SELECT 1 FROM messages WHERE id = ? AND receipt = ?",
                (message.id, message.receipt),
            ).fetchone()
            if owned is None:
                logger.info("dead_letter of message %s ignored: stale receipt", message.id)
                return
            _bury(conn, message.id, reason, self._clock())

    def check_writable(self) -> None:
        """Raise unless a send could be stored now (the file is not locked, full, corrupt)."""
        self._db.check_writable()

    def stats(self) -> QueueStats:
        now = self._clock()
        with self._db.read() as conn:
            ready, in_flight, delayed, oldest_sent_s = conn.execute(
                "SELECT "
                " coalesce(sum(visible_at_s <= ?), 0),"
                " coalesce(sum(visible_at_s > ? AND receipt IS NOT NULL), 0),"
                " coalesce(sum(visible_at_s > ? AND receipt IS NULL), 0),"
                " min(sent_at_s) "
                "FROM messages",
                (now, now, now),
            ).fetchone()
            (dead,) = conn.execute("SELECT count(*) FROM dead_letters").fetchone()
        oldest_age_s = None if oldest_sent_s is None else max(0.0, now - oldest_sent_s)
        return QueueStats(ready, in_flight, delayed, dead, oldest_age_s=oldest_age_s)

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """The oldest ``limit`` dead letters first."""
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT id, body, receive_count, reason, dead_at_s FROM dead_letters "
                "ORDER BY dead_at_s, id LIMIT ?",
                (limit,),
            ).fetchall()
        return [DeadLetter(*row) for row in rows]

    def redrive(self, ids: Sequence[str] | None = None) -> int:
        now = self._clock()
        with self._db.write() as conn:
            if ids is None:
                moved = conn.execute(_REDRIVE_SQL, (now,)).rowcount
                conn.execute("DELETE FROM dead_letters")
            else:
                moved = 0
                for message_id in dict.fromkeys(ids):
                    moved += conn.execute(
                        _REDRIVE_SQL + " WHERE id = ?", (now, message_id)
                    ).rowcount
                    conn.execute("DELETE FROM dead_letters WHERE id = ?", (message_id,))
        if moved:
            logger.info("redrove %d dead letters", moved)
            self._notify()
        return moved

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SqliteQueue:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- helpers ---------------------------------------------------------------------------

    def _insert(self, rows: list[_Row]) -> None:
        with self._db.write() as conn:
            conn.executemany(
                "INSERT INTO messages (id, body, sent_at_s, visible_at_s) VALUES (?, ?, ?, ?)",
                rows,
            )

    def _take(self, max_messages: int, visibility_timeout_s: float) -> list[Message]:
        """Claim up to ``max_messages`` visible messages, burying those out of tries."""
        now = self._clock()
        taken: list[Message] = []
        with self._db.write(durable=False) as conn:
            while len(taken) < max_messages:
                chunk = min(max_messages - len(taken), _MAX_IDS_PER_STATEMENT)
                candidates = conn.execute(
                    "SELECT id, receive_count, last_error FROM messages "
                    "WHERE visible_at_s <= ? ORDER BY visible_at_s LIMIT ?",
                    (now, chunk),
                ).fetchall()
                spent = [c for c in candidates if c[1] >= self._max_receives]
                for message_id, receive_count, last_error in spent:
                    _bury(conn, message_id, give_up_reason(receive_count, last_error), now)
                fresh_ids = [c[0] for c in candidates if c[1] < self._max_receives]
                taken += _claim(conn, fresh_ids, now + visibility_timeout_s)
                if len(candidates) < chunk:
                    break
        return taken

    def _wait_for_change(self, version: int, changes: int, deadline: float) -> bool:
        """Sleep until something may have become receivable; False once ``deadline`` passes."""
        due = time.monotonic() + self._seconds_to_next_visible()
        while (now := time.monotonic()) < deadline:
            if now >= due:
                return True
            with self._changed:
                timeout_s = min(self._poll_interval_s, deadline - now, due - now)
                self._changed.wait_for(lambda: self._changes != changes, timeout_s)
            if self._changes != changes or self._db.data_version() != version:
                return True
        return False

    def _seconds_to_next_visible(self) -> float:
        with self._db.read() as conn:
            (next_at_s,) = conn.execute("SELECT min(visible_at_s) FROM messages").fetchone()
        return float("inf") if next_at_s is None else max(0.0, next_at_s - self._clock())

    def _notify(self) -> None:
        with self._changed:
            self._changes += 1
            self._changed.notify_all()


def _claim(conn: sqlite3.Connection, ids: list[str], visible_at_s: float) -> list[Message]:
    if not ids:
        return []
    placeholders = ",".join("?" * len(ids))
    rows = conn.execute(
        "UPDATE messages SET receive_count = receive_count + 1, visible_at_s = ?,"
        " receipt = lower(hex(randomblob(12))) "
        f"WHERE id IN ({placeholders}) RETURNING id, body, receive_count, receipt",
        (visible_at_s, *ids),
    ).fetchall()
    by_id = {row[0]: Message(*row) for row in rows}
    return [by_id[i] for i in ids]


def _bury(conn: sqlite3.Connection, message_id: str, reason: str, now: float) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO dead_letters "
        "(id, body, sent_at_s, receive_count, reason, dead_at_s) "
        "SELECT id, body, sent_at_s, receive_count, ?, ? FROM messages WHERE id = ?",
        (reason, now, message_id),
    )
    conn.execute("DELETE FROM messages WHERE id = ?", (message_id,))
    logger.warning("message %s dead-lettered: %s", message_id, reason)


_Row = tuple[str, str, float, float]


class _GroupCommit:
    """Commit the rows of concurrent ``send`` calls together: one transaction, one fsync.

    The first caller to find no commit under way becomes the leader: it takes every row
    queued so far (its own and others'), inserts them in one transaction, then wakes the
    others. Callers that queued while it was committing elect the next leader. A lone
    caller commits at once; under load each fsync carries every send that arrived during
    the previous one. An error fails every send of that transaction.
    """

    def __init__(self, insert: Callable[[list[_Row]], None]) -> None:
        self._insert = insert
        self._cond = threading.Condition()
        self._queued: list[_PendingSend] = []
        self._leading = False

    def commit(self, rows: list[_Row]) -> None:
        pending = _PendingSend(rows)
        with self._cond:
            self._queued.append(pending)
            while not pending.done:
                if self._leading:
                    self._cond.wait()
                    continue
                self._leading = True
                batch, self._queued = self._queued, []
                error = self._insert_unlocked(batch)
                for sent in batch:
                    sent.done, sent.error = True, error
                self._leading = False
                self._cond.notify_all()
        if pending.error is not None:
            raise pending.error

    def _insert_unlocked(self, batch: list[_PendingSend]) -> BaseException | None:
        self._cond.release()
        try:
            self._insert([row for sent in batch for row in sent.rows])
        except BaseException as exc:  # handed to every caller in the batch
            return exc
        finally:
            self._cond.acquire()
        return None


class _PendingSend:
    __slots__ = ("done", "error", "rows")

    def __init__(self, rows: list[_Row]) -> None:
        self.rows = rows
        self.done = False
        self.error: BaseException | None = None
