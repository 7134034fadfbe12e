"""What only the SQLite queue promises: group commit of concurrent sends, data kept on disk."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from aircraftml.queue.sqlite import SqliteQueue


def test_concurrent_sends_from_threads_all_land_once(tmp_path: Path) -> None:
    # Given one queue shared by 16 threads, each sending 40 single messages
    queue = SqliteQueue(tmp_path / "q.sqlite3")
    sent: list[str] = []
    lock = threading.Lock()

    def produce(thread: int) -> None:
        for i in range(40):
            (message_id,) = queue.send([f"{thread}:{i}"])
            with lock:
                sent.append(message_id)

    threads = [threading.Thread(target=produce, args=(t,)) for t in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # When everything is received
    received = queue.receive(max_messages=10_000)
    # Then every send returned its own id and every message is there once
    assert len(set(sent)) == 640
    assert sorted(m.id for m in received) == sorted(sent)
    assert len({m.body for m in received}) == 640
    queue.close()


def test_messages_outlive_the_handle_that_sent_them(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    with SqliteQueue(path) as queue:
        ids = queue.send(["a", "b"])
    with SqliteQueue(path) as queue:
        assert [m.id for m in queue.receive(max_messages=10)] == ids


def test_a_body_that_is_not_text_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with SqliteQueue(tmp_path / "q.sqlite3") as queue:
        with pytest.raises(TypeError, match="str"):
            queue.send(["ok", b"bytes"])  # type: ignore[list-item]
        assert queue.stats().ready == 0


def test_synchronous_must_be_full_or_normal(tmp_path: Path) -> None:
    from aircraftml.errors import ConfigError

    with pytest.raises(ConfigError, match="synchronous"):
        SqliteQueue(tmp_path / "q.sqlite3", synchronous="OFF")  # type: ignore[arg-type]
