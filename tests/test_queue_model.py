"""The SQLite queue behaves as the in-memory reference does, for any sequence of operations.

Hypothesis drives both with the same random sends, receives, acks, retries, dead-letters,
redrives and clock moves, and compares what a user of the contract can see.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from aircraftml.queue.base import Message
from aircraftml.queue.memory import MemoryQueue
from aircraftml.queue.sqlite import SqliteQueue


class Clock:
    def __init__(self) -> None:
        self.now_s = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now_s


def _view(messages: list[Message]) -> list[tuple[str, int]]:
    return [(m.body, m.receive_count) for m in messages]


class SqliteMatchesMemory(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock()
        self.scratch = tempfile.TemporaryDirectory()
        path = Path(self.scratch.name) / "q.sqlite3"
        self.memory = MemoryQueue(max_receives=3, clock=self.clock)
        self.sqlite = SqliteQueue(path, max_receives=3, synchronous="NORMAL", clock=self.clock)
        self.held: list[tuple[Message, Message]] = []  # (memory's, sqlite's) deliveries
        self.sent = 0

    @rule(count=st.integers(1, 3), delay_s=st.sampled_from([0.0, 5.0]))
    def send(self, count: int, delay_s: float) -> None:
        bodies = [f"m{self.sent + i}" for i in range(count)]
        self.sent += count
        self.memory.send(bodies, delay_s)
        self.sqlite.send(bodies, delay_s)

    @rule(max_messages=st.integers(1, 4), visibility_s=st.sampled_from([1.0, 10.0]))
    def receive(self, max_messages: int, visibility_s: float) -> None:
        from_memory = self.memory.receive(max_messages, visibility_timeout_s=visibility_s)
        from_sqlite = self.sqlite.receive(max_messages, visibility_timeout_s=visibility_s)
        assert _view(from_sqlite) == _view(from_memory)
        self.held += zip(from_memory, from_sqlite, strict=True)

    @precondition(lambda self: self.held)
    @rule(index=st.integers(0, 100), action=st.sampled_from(["ack", "retry", "dead", "extend"]))
    def settle(self, index: int, action: str) -> None:
        memory_message, sqlite_message = self.held.pop(index % len(self.held))
        for queue, message in ((self.memory, memory_message), (self.sqlite, sqlite_message)):
            if action == "ack":
                queue.ack(message)
            elif action == "retry":
                queue.retry(message, delay_s=2.0, reason=f"failed {message.body}")
            elif action == "dead":
                queue.dead_letter(message, reason="bad")
            else:
                queue.extend(message, visibility_timeout_s=20.0)

    @rule(seconds=st.sampled_from([0.5, 3.0, 30.0]))
    def advance(self, seconds: float) -> None:
        self.clock.now_s += seconds

    @rule()
    def redrive_all(self) -> None:
        assert self.sqlite.redrive() == self.memory.redrive()

    @invariant()
    def same_stats_and_dead_letters(self) -> None:
        assert self.sqlite.stats() == self.memory.stats()
        memory_dead = sorted(
            (d.body, d.receive_count, d.reason) for d in self.memory.dead_letters()
        )
        sqlite_dead = sorted(
            (d.body, d.receive_count, d.reason) for d in self.sqlite.dead_letters()
        )
        assert sqlite_dead == memory_dead

    def teardown(self) -> None:
        self.sqlite.close()
        self.scratch.cleanup()


SqliteMatchesMemory.TestCase.settings = settings(
    max_examples=40, stateful_step_count=25, deadline=None
)
test_sqlite_matches_memory = SqliteMatchesMemory.TestCase
