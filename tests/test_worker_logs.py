"""What the worker logs says what happens to the message: a failed last try is said to be
dead-lettered (it used to say "will retry" for a message the queue was burying)."""

from __future__ import annotations

import logging

import pytest

from aircraftml.domain import Request
from aircraftml.errors import TransientError
from aircraftml.queue.memory import MemoryQueue
from aircraftml.worker import Worker
from fake_clock import FakeClock


class FailingHandler:
    """A handler whose every try fails as X's 503 would."""

    def handle(self, request: Request) -> None:
        raise TransientError("reply to 1: HTTP 503: Service Unavailable")


def test_the_last_failed_try_is_logged_as_dead_lettered_not_as_a_retry(
    caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    # Given a queue that allows two tries, and a mention whose every try fails
    queue = MemoryQueue(max_receives=2, clock=clock)
    queue.send([Request("x", "1", "42", "alice", "hi").to_json()])
    handler: object = FailingHandler()
    worker = Worker(queue, handler, max_receives=2, wait_s=0)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="aircraftml.worker"):
        # When the worker tries it twice
        worker.run_once()
        first = caplog.text
        caplog.clear()
        clock.advance(2)  # the retry's backoff
        worker.run_once()
    # Then the first failure says it will be retried, the second that it is dead-lettered
    assert "will retry in 2 s" in first
    assert "try 2 of 2 failed, dead-lettered" in caplog.text
    assert "will retry" not in caplog.text
    assert queue.stats().dead == 1
