"""What the worker logs says what happens to the message: a failed last try is said to be
dead-lettered (it used to say "will retry" for a message the queue was burying)."""

from __future__ import annotations

import logging

import pytest

from aircraftml.errors import TransientError
from aircraftml.queue.memory import MemoryQueue
from aircraftml.state.memory import MemoryStateStore
from aircraftml.worker import Worker
from fake_clock import FakeClock
from test_handler import PlatformDouble, make_handler, request


def test_the_last_failed_try_is_logged_as_dead_lettered_not_as_a_retry(
    caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    # Given a queue that allows two tries, and a mention whose both replies X refuses (503)
    platform = PlatformDouble(photos={"u/747": b"747"})
    platform.fail_next_reply += [TransientError("reply: HTTP 503"), TransientError("HTTP 503")]
    queue = MemoryQueue(max_receives=2, clock=clock)
    queue.send([request().to_json()])
    handler = make_handler(platform, MemoryStateStore(clock=clock), clock=clock)
    worker = Worker(queue, handler, max_receives=2, wait_s=0, clock=clock)
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
    assert queue.stats().dead == 1 and platform.replies == []
