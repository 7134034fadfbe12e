"""The RequestQueue contract, run against every backend.

To add a backend, add its name to ``BACKENDS`` and a branch in ``_open``: it gets the
test's clock (ignore it if the backend keeps its own time, and mark the clock-driven tests
to skip) and ``max_receives``. Calling ``make_queue`` twice in one test must give two
handles on the same queue (two connections, two processes' worth of view).
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from aircraftml.queue.base import QueueStats, RequestQueue
from aircraftml.queue.memory import MemoryQueue
from aircraftml.queue.sqlite import SqliteQueue
from fake_clock import FakeClock

BACKENDS = ["memory", "sqlite", "sqs"]
# Backends that keep their own time skip the tests that move the clock (and the slow ones);
# tests/test_sqs_queue.py runs their live equivalents.
REAL_TIME_BACKENDS = {"sqs": "SQS keeps its own time: see tests/test_sqs_queue.py"}
TOO_SLOW = {"sqs": {"test_large_batches_are_sent_and_received_whole": "~1 min on moto"}}

MakeQueue = Callable[..., RequestQueue]


@pytest.fixture(params=BACKENDS)
def make_queue(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> Iterator[MakeQueue]:
    if (
        request.param in REAL_TIME_BACKENDS
        and "clock" in inspect.signature(request.function).parameters
    ):
        pytest.skip(REAL_TIME_BACKENDS[request.param])
    if request.function.__name__ in TOO_SLOW.get(request.param, {}):
        pytest.skip(TOO_SLOW[request.param][request.function.__name__])
    opened: list[RequestQueue] = []
    shared: dict[str, RequestQueue] = {}

    def _open(max_receives: int = 5) -> RequestQueue:
        queue: RequestQueue
        if request.param == "memory":
            queue = shared.setdefault("q", MemoryQueue(max_receives=max_receives, clock=clock))
        elif request.param == "sqlite":
            queue = SqliteQueue(tmp_path / "q.sqlite3", max_receives=max_receives, clock=clock)
        elif request.param == "sqs":
            from aircraftml.queue.sqs import SqsQueue

            client = request.getfixturevalue("make_aws_client")("sqs")
            queue = SqsQueue.create(
                f"contract-{tmp_path.name}",
                max_receives=max_receives,
                client=client,
                drain_wait_s=0,
                owns_client=True,
            )
        else:
            raise AssertionError(request.param)
        opened.append(queue)
        return queue

    yield _open
    for queue in opened:
        queue.close()


@pytest.fixture
def queue(make_queue: MakeQueue) -> RequestQueue:
    return make_queue(max_receives=3)


def test_sent_message_is_received_once_with_count_one(queue: RequestQueue) -> None:
    # Given a message sent to the queue
    (message_id,) = queue.send(["hello"])
    # When two consumers receive
    first = queue.receive()
    second = queue.receive()
    # Then only the first gets it, as its first delivery
    assert [(m.id, m.body, m.receive_count) for m in first] == [(message_id, "hello", 1)]
    assert second == []


def test_batch_send_keeps_order_and_receive_takes_up_to_max(queue: RequestQueue) -> None:
    # Given a batch of five bodies sent at once
    ids = queue.send([f"m{i}" for i in range(5)])
    # When a consumer takes three, then asks for ten
    first = queue.receive(max_messages=3)
    rest = queue.receive(max_messages=10)
    # Then they come in the order sent, each once, each with its own receipt
    assert len(set(ids)) == 5
    assert [m.id for m in first + rest] == ids
    assert [m.body for m in first + rest] == [f"m{i}" for i in range(5)]
    assert len({m.receipt for m in first + rest}) == 5


def test_large_batches_are_sent_and_received_whole(queue: RequestQueue) -> None:
    # Given 1,200 messages sent in one batch
    ids = queue.send([str(i) for i in range(1200)])
    # When a consumer asks for up to 5,000
    messages = queue.receive(max_messages=5000)
    # Then it gets all of them, in order
    assert [m.id for m in messages] == ids


def test_empty_send_and_empty_receive(queue: RequestQueue) -> None:
    assert queue.send([]) == []
    assert queue.receive(max_messages=10) == []


def test_visibility_timeout_expiry_redelivers_with_count_raised(
    queue: RequestQueue, clock: FakeClock
) -> None:
    # Given a message received with a 30 s visibility timeout and never acked
    queue.send(["job"])
    (first,) = queue.receive(visibility_timeout_s=30)
    # When 29 s pass it is still hidden; when 31 s have passed it comes back
    clock.advance(29)
    assert queue.receive() == []
    clock.advance(2)
    (second,) = queue.receive()
    # Then it is the same message, second delivery, new receipt
    assert (second.id, second.receive_count) == (first.id, 2)
    assert second.receipt != first.receipt


def test_ack_deletes_the_message(queue: RequestQueue, clock: FakeClock) -> None:
    # Given a received message
    queue.send(["job"])
    (message,) = queue.receive(visibility_timeout_s=1)
    # When it is acked
    queue.ack(message)
    clock.advance(10)
    # Then it never comes back and nothing is left
    assert queue.receive() == []
    assert queue.stats() == QueueStats(ready=0, in_flight=0, delayed=0, dead=0)


def test_stale_receipt_is_a_no_op(queue: RequestQueue, clock: FakeClock) -> None:
    # Given a slow worker whose delivery expired and was received by another worker
    queue.send(["job"])
    (stale,) = queue.receive(visibility_timeout_s=5)
    clock.advance(6)
    (current,) = queue.receive(visibility_timeout_s=60)
    # When the slow worker acks, retries, defers, extends and dead-letters with its old receipt
    queue.ack(stale)
    queue.retry(stale, delay_s=0, reason="late")
    queue.defer(stale, delay_s=0, reason="late")
    queue.extend(stale, visibility_timeout_s=1000)
    queue.dead_letter(stale, reason="late")
    # Then the current delivery is untouched: still in flight, and its ack works
    assert queue.stats() == QueueStats(ready=0, in_flight=1, delayed=0, dead=0)
    queue.ack(current)
    assert queue.stats() == QueueStats(ready=0, in_flight=0, delayed=0, dead=0)


def test_ack_after_expiry_still_works_if_nobody_received_it_again(
    queue: RequestQueue, clock: FakeClock
) -> None:
    # Given a delivery whose visibility timeout passed but which nobody received since
    queue.send(["job"])
    (message,) = queue.receive(visibility_timeout_s=5)
    clock.advance(6)
    # When the worker acks it late
    queue.ack(message)
    # Then its receipt was still current: the message is gone
    assert queue.receive() == []


def test_retry_hides_the_message_for_the_delay(queue: RequestQueue, clock: FakeClock) -> None:
    # Given a received message that failed
    queue.send(["job"])
    (message,) = queue.receive()
    # When it is retried with a 10 s delay
    queue.retry(message, delay_s=10, reason="timeout")
    # Then it is delayed, not visible before 10 s, visible after, with its count raised
    assert queue.stats() == QueueStats(ready=0, in_flight=0, delayed=1, dead=0)
    clock.advance(9)
    assert queue.receive() == []
    clock.advance(1)
    (again,) = queue.receive()
    assert (again.id, again.receive_count) == (message.id, 2)


def test_retry_after_max_receives_dead_letters_with_last_error(
    queue: RequestQueue, clock: FakeClock
) -> None:
    # Given a queue that allows 3 receives, and a message that fails every time
    (message_id,) = queue.send(["job"])
    for attempt in range(1, 4):
        clock.advance(1)
        (message,) = queue.receive()
        assert message.receive_count == attempt
        queue.retry(message, delay_s=0, reason=f"boom {attempt}")
    # Then after the third failure it is in the dead-letter queue with the last error
    assert queue.receive() == []
    (dead,) = queue.dead_letters()
    assert (dead.id, dead.body, dead.receive_count) == (message_id, "job", 3)
    assert dead.reason == "gave up after 3 tries: boom 3"
    assert dead.dead_at_epoch_s == clock()
    assert queue.stats() == QueueStats(ready=0, in_flight=0, delayed=0, dead=1)


def test_expired_after_max_receives_dead_letters_on_next_receive(
    queue: RequestQueue, clock: FakeClock
) -> None:
    # Given a message that failed once with an error, then was received and abandoned twice
    queue.send(["job"])
    (message,) = queue.receive(visibility_timeout_s=1)
    queue.retry(message, delay_s=0, reason="http 503")
    for _ in range(2):
        assert len(queue.receive(visibility_timeout_s=1)) == 1
        clock.advance(2)
    # When a consumer asks again
    received = queue.receive()
    # Then it gets nothing, and the message is dead with its last error
    assert received == []
    (dead,) = queue.dead_letters()
    assert dead.reason == "gave up after 3 tries: http 503"


def test_spent_messages_do_not_block_fresh_ones(queue: RequestQueue, clock: FakeClock) -> None:
    # Given a spent message ahead of a fresh one
    (spent_id,) = queue.send(["spent"])
    for _ in range(3):
        queue.receive(visibility_timeout_s=1)
        clock.advance(2)
    (fresh_id,) = queue.send(["fresh"])
    # When a consumer asks for one message
    (message,) = queue.receive(max_messages=1)
    # Then it gets the fresh one and the spent one is dead
    assert message.id == fresh_id
    assert [d.id for d in queue.dead_letters()] == [spent_id]


def test_defer_never_spends_a_try(queue: RequestQueue) -> None:
    # Given a message (3 tries) that failed once, so it is on its 2nd try
    queue.send(["job"])
    (first,) = queue.receive(wait_s=2)
    queue.retry(first, delay_s=0, reason="503")
    # When it is deferred five times (a rate limit, another worker's claim)
    for _ in range(5):
        (message,) = queue.receive(wait_s=2)
        assert message.receive_count == 2
        queue.defer(message, delay_s=0, reason="rate limited")
    # Then it is still on its 2nd try, with the same id, and nothing is dead
    (message,) = queue.receive(wait_s=2)
    assert (message.id, message.body, message.receive_count) == (first.id, "job", 2)
    assert queue.stats().dead == 0


def test_defer_hides_the_message_for_the_delay(queue: RequestQueue, clock: FakeClock) -> None:
    queue.send(["job"])
    (message,) = queue.receive(visibility_timeout_s=5)
    queue.defer(message, delay_s=60, reason="rate limited until the reset")
    clock.advance(59)
    assert queue.receive() == []
    assert queue.stats() == QueueStats(ready=0, in_flight=0, delayed=1, dead=0)
    clock.advance(1)
    assert [m.receive_count for m in queue.receive()] == [1]


def test_dead_letter_moves_at_once_with_reason(queue: RequestQueue) -> None:
    # Given a received message that can never succeed
    (message_id,) = queue.send(["job"])
    (message,) = queue.receive()
    # When it is dead-lettered
    queue.dead_letter(message, reason="photo is not an image")
    # Then it is in the dead-letter queue with that reason and nowhere else
    (dead,) = queue.dead_letters()
    assert (dead.id, dead.reason, dead.receive_count) == (message_id, "photo is not an image", 1)
    assert queue.stats() == QueueStats(ready=0, in_flight=0, delayed=0, dead=1)


def test_extend_keeps_a_slow_message_hidden(queue: RequestQueue, clock: FakeClock) -> None:
    # Given a message received with a 10 s visibility timeout
    queue.send(["slow"])
    (message,) = queue.receive(visibility_timeout_s=10)
    # When at 8 s the worker extends it by 30 s
    clock.advance(8)
    queue.extend(message, visibility_timeout_s=30)
    # Then it is still hidden at 37 s and back at 39 s
    clock.advance(29)
    assert queue.receive() == []
    clock.advance(2)
    assert [m.id for m in queue.receive()] == [message.id]


def test_redrive_all_resets_receive_count(queue: RequestQueue) -> None:
    # Given two dead letters
    queue.send(["a", "b"])
    for message in queue.receive(max_messages=2):
        queue.dead_letter(message, reason="bad")
    # When an operator redrives all of them
    moved = queue.redrive()
    # Then both are back, first delivery again, and the dead-letter queue is empty
    assert moved == 2
    again = queue.receive(max_messages=10)
    assert sorted(m.body for m in again) == ["a", "b"]
    assert {m.receive_count for m in again} == {1}
    assert queue.dead_letters() == []


def test_redrive_by_id_moves_only_those(queue: RequestQueue) -> None:
    # Given three dead letters
    ids = queue.send(["a", "b", "c"])
    for message in queue.receive(max_messages=3):
        queue.dead_letter(message, reason="bad")
    # When an operator redrives one of them, and an id that does not exist
    moved = queue.redrive([ids[1], "no-such-id"])
    # Then only that one is back
    assert moved == 1
    assert [m.body for m in queue.receive(max_messages=10)] == ["b"]
    assert sorted(d.id for d in queue.dead_letters()) == sorted([ids[0], ids[2]])


def test_dead_letters_are_listed_oldest_first_up_to_limit(
    queue: RequestQueue, clock: FakeClock
) -> None:
    # Given three messages dead-lettered one second apart
    ids = queue.send(["a", "b", "c"])
    for message in queue.receive(max_messages=3):
        clock.advance(1)
        queue.dead_letter(message, reason=f"bad {message.body}")
    # When the first two are listed
    listed = queue.dead_letters(limit=2)
    # Then they are the oldest two, each with its own reason
    assert [(d.id, d.reason) for d in listed] == [(ids[0], "bad a"), (ids[1], "bad b")]


def test_stats_count_ready_in_flight_delayed_and_dead(
    queue: RequestQueue, clock: FakeClock
) -> None:
    # Given: 2 ready, 1 in flight, 1 delayed at send, 1 retried with a delay, 1 dead
    queue.send(["in-flight", "retried", "dead"])
    _in_flight, retried, dead = queue.receive(max_messages=3)
    queue.retry(retried, delay_s=60, reason="later")
    queue.dead_letter(dead, reason="bad")
    queue.send(["ready-1", "ready-2"])
    queue.send(["delayed"], delay_s=30)
    # Then
    assert queue.stats() == QueueStats(ready=2, in_flight=1, delayed=2, dead=1)
    # And once everyone's time has passed, all that is hidden is ready again
    clock.advance(61)
    assert queue.stats() == QueueStats(ready=5, in_flight=0, delayed=0, dead=1)


def test_send_with_delay_hides_until_due(queue: RequestQueue, clock: FakeClock) -> None:
    queue.send(["later"], delay_s=5)
    assert queue.receive() == []
    clock.advance(5)
    assert [m.body for m in queue.receive()] == ["later"]


def test_long_poll_returns_when_another_handle_sends(make_queue: MakeQueue) -> None:
    # Given a consumer long-polling an empty queue, and a producer on another handle
    consumer, producer = make_queue(), make_queue()
    sender = threading.Timer(0.1, lambda: producer.send(["wake up"]))
    # When the producer sends 0.1 s later
    started = time.monotonic()
    sender.start()
    received = consumer.receive(wait_s=5)
    waited_s = time.monotonic() - started
    sender.join()
    # Then the consumer gets it well before its wait ends
    assert [m.body for m in received] == ["wake up"]
    assert waited_s < 1.0


def test_long_poll_returns_when_the_same_handle_sends(queue: RequestQueue) -> None:
    sender = threading.Timer(0.05, lambda: queue.send(["wake up"]))
    sender.start()
    received = queue.receive(wait_s=5)
    sender.join()
    assert [m.body for m in received] == ["wake up"]


def test_long_poll_on_an_empty_queue_returns_nothing_after_the_wait(
    queue: RequestQueue,
) -> None:
    started = time.monotonic()
    assert queue.receive(wait_s=0.2) == []
    assert 0.15 <= time.monotonic() - started < 1.0


def test_invalid_arguments_are_refused(make_queue: MakeQueue) -> None:
    with pytest.raises(ValueError, match="max_receives"):
        make_queue(max_receives=0)
    with pytest.raises(ValueError, match="max_messages"):
        make_queue().receive(max_messages=0)


def test_stats_tell_the_oldest_messages_age(queue: RequestQueue, clock: FakeClock) -> None:
    # Given an empty queue / Then it has no oldest message
    assert queue.stats().oldest_age_s is None
    # When a message is sent, then another 30 s later, and 10 s pass
    queue.send(["first"])
    clock.advance(30)
    queue.send(["second"])
    clock.advance(10)
    age_s = queue.stats().oldest_age_s
    if age_s is None:
        pytest.skip("this backend cannot tell the age of its oldest message (SQS)")
    # Then the oldest is 40 s old, in flight or not
    assert age_s == pytest.approx(40)
    queue.receive()
    assert queue.stats().oldest_age_s == pytest.approx(40)
