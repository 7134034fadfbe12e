"""One SQLite file shared by several processes: the plumbing under the embedded queue and state.

- WAL journal: readers never block the writer; one writer at a time.
- ``synchronous=FULL`` (default): the WAL is fsynced at every commit, so what a commit
  returned survives a power cut or machine restart. ``NORMAL`` survives the death of any
  process (kill -9) but may lose the last commits on power loss; see benchmarks/bench_queue.py.
- Every write runs in ``BEGIN IMMEDIATE``: the write lock is taken up front, so two
  processes never both read a row and then both claim it, and waiting happens in SQLite's
  busy handler (``busy_timeout_s``) instead of failing with SQLITE_BUSY half-way through.
- One connection per process, shared by its threads under a lock (SQLite's busy handler
  sleeps in steps of several milliseconds; a Python lock wakes a waiting thread at once).
  A process forked with an open Database reopens its own connection on first use.

``sqlite3.OperationalError`` (locked past the busy timeout, disk full, disk I/O) and a
file that is not (or no longer) a database become ``TransientError`` here, the one place
this module's callers touch sqlite3.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from aircraftml.errors import ConfigError, TransientError

logger = logging.getLogger(__name__)

Synchronous = Literal["FULL", "NORMAL"]


class Database:
    def __init__(
        self,
        path: Path,
        schema_sql: str,
        *,
        synchronous: Synchronous = "FULL",
        busy_timeout_s: float = 10.0,
    ) -> None:
        if synchronous not in ("FULL", "NORMAL"):
            raise ConfigError(f"synchronous must be FULL or NORMAL, got {synchronous!r}")
        self.path = Path(path)
        self._synchronous = synchronous
        self._busy_timeout_ms = int(busy_timeout_s * 1000)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self._inherited: list[sqlite3.Connection] = []
        self._conn_synchronous: Synchronous = synchronous
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.write() as conn:
            for statement in _statements(schema_sql):
                conn.execute(statement)

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE ... COMMIT), rolled back on any exception.

        ``durable=False`` commits with ``synchronous=NORMAL`` whatever the setting: the
        commit survives any process's death but a power cut may undo it (never corrupt
        it, and never undo an earlier durable commit). For writes that may be lost.
        """
        with self._lock, _mapped_errors(self.path):
            conn = self._connection()
            self._set_synchronous(conn, self._synchronous if durable else "NORMAL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every statement inside sees one snapshot."""
        with self._lock, _mapped_errors(self.path):
            conn = self._connection()
            conn.execute("BEGIN DEFERRED")
            try:
                yield conn
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")

    def check_writable(self) -> None:
        """Raise unless a write could start now (within the busy timeout); writes nothing."""
        with self.write(durable=False):
            pass

    def data_version(self) -> int:
        """A number that changes whenever another connection commits to the file."""
        with self._lock, _mapped_errors(self.path):
            row = self._connection().execute("PRAGMA data_version").fetchone()
        return int(row[0])

    def _set_synchronous(self, conn: sqlite3.Connection, synchronous: Synchronous) -> None:
        if synchronous != self._conn_synchronous:
            conn.execute(f"PRAGMA synchronous = {synchronous}")
            self._conn_synchronous = synchronous

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def _connection(self) -> sqlite3.Connection:
        if self._pid != os.getpid():
            # Never use or close a connection inherited across fork(); keep it unreferenced
            # by SQLite calls and open our own.
            if self._conn is not None:
                self._inherited.append(self._conn)
            self._conn, self._pid = None, os.getpid()
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
        _enable_wal(conn, self._busy_timeout_ms / 1000)
        conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        self._conn_synchronous = self._synchronous
        return conn


def tables_in(path: Path) -> set[str]:
    """The tables of the SQLite file at ``path``, read without writing or creating anything;
    TransientError when it cannot be read (not a database...)."""
    with (
        _mapped_errors(path),
        contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn,
    ):
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {str(row[0]) for row in rows}


def _enable_wal(conn: sqlite3.Connection, timeout_s: float) -> None:
    """Switch to WAL. On a new file several processes may race to do it, and SQLite answers
    the losers "database is locked" at once, without waiting on busy_timeout: retry."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _statements(schema_sql: str) -> list[str]:
    return [s.strip() for s in schema_sql.split(";") if s.strip()]


@contextmanager
def _mapped_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except sqlite3.OperationalError as exc:
        raise TransientError(f"SQLite database {path}: {exc}") from exc
    except sqlite3.DatabaseError as exc:
        if type(exc) is not sqlite3.DatabaseError:  # IntegrityError, ProgrammingError: bugs
            raise
        raise TransientError(f"SQLite database {path}: {exc}") from exc
