"""The SQLite queue and state store shared by real processes (spawned, so nothing is inherited).

Each test starts a few processes on one SQLite file and checks what the others see:
no message lost or delivered twice, a killed worker's message coming back, a killed
producer's committed batches all there and none half-written, one owner per key.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from multiprocessing.synchronize import Barrier, Event
from pathlib import Path
from typing import Any

import pytest

from aircraftml.queue.base import QueueStats
from aircraftml.queue.sqlite import SqliteQueue
from aircraftml.state.sqlite import SqliteStateStore

SPAWN = mp.get_context("spawn")
JOIN_TIMEOUT_S = 30.0


def _produce(path: Path, bodies: list[str], batch_size: int) -> None:
    with SqliteQueue(path) as queue:
        for start in range(0, len(bodies), batch_size):
            queue.send(bodies[start : start + batch_size])


def _consume(path: Path, producers_done: Event, results: Any) -> None:
    acked: list[str] = []
    with SqliteQueue(path) as queue:
        while True:
            finished = producers_done.is_set()
            messages = queue.receive(max_messages=10, wait_s=0.05, visibility_timeout_s=30)
            if not messages and finished:
                break
            for message in messages:
                queue.ack(message)
                acked.append(message.body)
    results.put(acked)


def _take_and_hang(path: Path, taken: Any) -> None:
    with SqliteQueue(path) as queue:
        (message,) = queue.receive(wait_s=10, visibility_timeout_s=1.0)
        taken.put(message.id)
        time.sleep(60)


def _produce_forever(path: Path, batch_size: int, committed: Any) -> None:
    with SqliteQueue(path) as queue:
        for batch in range(1_000_000):
            ids = queue.send([f"{batch}:{i}" for i in range(batch_size)])
            committed.put(ids)


def _claim(path: Path, barrier: Barrier, results: Any) -> None:
    barrier.wait()
    store = SqliteStateStore(path)  # all create the file's schema at once, too
    results.put(store.claim("x:reply:42", ttl_s=60).status.value)
    store.close()


def _start(target: Any, *args: Any) -> Any:
    process = SPAWN.Process(target=target, args=args, daemon=True)
    process.start()
    return process


def _join_all(processes: list[Any]) -> None:
    for process in processes:
        process.join(JOIN_TIMEOUT_S)
        assert process.exitcode == 0, f"{process.name} exited with {process.exitcode}"


def test_producers_and_consumers_deliver_each_message_exactly_once(tmp_path: Path) -> None:
    # Given 2 producer and 3 consumer processes on one queue file
    path = tmp_path / "q.sqlite3"
    SqliteQueue(path).close()
    bodies = [f"m{i}" for i in range(1000)]
    producers_done, results = SPAWN.Event(), SPAWN.Queue()
    consumers = [_start(_consume, path, producers_done, results) for _ in range(3)]
    # When the producers send 500 messages each, one in singles and one in batches of 25
    producers = [_start(_produce, path, bodies[:500], 1), _start(_produce, path, bodies[500:], 25)]
    _join_all(producers)
    producers_done.set()
    acked = [body for _ in consumers for body in results.get(timeout=JOIN_TIMEOUT_S)]
    _join_all(consumers)
    # Then every message was acked once, by one consumer, and the queue is empty
    assert len(acked) == 1000
    assert sorted(acked) == sorted(bodies)
    with SqliteQueue(path) as queue:
        assert queue.stats() == QueueStats(ready=0, in_flight=0, delayed=0, dead=0)


def test_message_of_a_killed_consumer_comes_back_after_its_visibility_timeout(
    tmp_path: Path,
) -> None:
    # Given a consumer process that received a message (1 s visibility) and hangs
    path = tmp_path / "q.sqlite3"
    queue = SqliteQueue(path)
    (message_id,) = queue.send(["job"])
    taken = SPAWN.Queue()
    consumer = _start(_take_and_hang, path, taken)
    assert taken.get(timeout=JOIN_TIMEOUT_S) == message_id
    taken_at = time.monotonic()
    # When it is killed with SIGKILL
    os.kill(consumer.pid, signal.SIGKILL)
    consumer.join(JOIN_TIMEOUT_S)
    # Then the message is hidden until the timeout passes, then delivered once more
    assert queue.receive() == []
    (again,) = queue.receive(wait_s=5, visibility_timeout_s=30)
    assert time.monotonic() - taken_at >= 0.9
    assert (again.id, again.receive_count) == (message_id, 2)
    queue.ack(again)
    assert queue.stats() == QueueStats(ready=0, in_flight=0, delayed=0, dead=0)
    queue.close()


def test_killed_producer_loses_no_committed_batch_and_writes_no_half_batch(
    tmp_path: Path,
) -> None:
    # Given a producer process sending batches of 50 as fast as it can
    path = tmp_path / "q.sqlite3"
    SqliteQueue(path).close()
    committed = SPAWN.Queue()
    producer = _start(_produce_forever, path, 50, committed)
    reported = [committed.get(timeout=JOIN_TIMEOUT_S) for _ in range(5)]
    # When it is killed with SIGKILL in the middle of its work
    os.kill(producer.pid, signal.SIGKILL)
    producer.join(JOIN_TIMEOUT_S)
    # Then every batch whose send returned is there, and only whole batches are
    with SqliteQueue(path) as queue:
        messages = queue.receive(max_messages=100_000)
    stored_ids = {m.id for m in messages}
    assert {i for batch in reported for i in batch} <= stored_ids
    assert len(messages) % 50 == 0
    assert len({m.body for m in messages}) == len(messages)


@pytest.mark.parametrize("processes", [4])
def test_concurrent_claims_from_processes_give_exactly_one_fresh(
    tmp_path: Path, processes: int
) -> None:
    # Given several processes opening a new state file and claiming one key at once
    path = tmp_path / "state.sqlite3"
    barrier, results = SPAWN.Barrier(processes), SPAWN.Queue()
    workers = [_start(_claim, path, barrier, results) for _ in range(processes)]
    statuses = sorted(results.get(timeout=JOIN_TIMEOUT_S) for _ in workers)
    _join_all(workers)
    # Then exactly one owns it
    assert statuses == ["fresh"] + ["in_progress"] * (processes - 1)
