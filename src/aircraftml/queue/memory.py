"""An in-process RequestQueue: the reference behaviour, used by tests and single-process runs.

Thread-safe (one lock, one condition for long polls); nothing survives the process. Times
come from the injected ``clock`` so tests can move time instead of sleeping; long polls
(``wait_s``) wait in real time.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aircraftml.queue.base import DeadLetter, Message, QueueStats, give_up_reason

logger = logging.getLogger(__name__)

_MIN_WAIT_S = 0.001


@dataclass(slots=True)
class _Entry:
    id: str
    body: str
    seq: int
    visible_at_s: float
    receive_count: int = 0
    receipt: str | None = None
    last_error: str | None = None
    sent_at_s: float = 0.0


class MemoryQueue:
    """A RequestQueue held in a dict. See ``aircraftml.queue.base`` for the contract."""

    def __init__(self, *, max_receives: int = 5, clock: Callable[[], float] = time.time) -> None:
        if max_receives < 1:
            raise ValueError(f"max_receives must be >= 1, got {max_receives}")
        self._max_receives = max_receives
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._dead: dict[str, DeadLetter] = {}
        self._seq = itertools.count()
        self._changed = threading.Condition()

    def send(self, bodies: Sequence[str], delay_s: float = 0.0) -> list[str]:
        now = self._clock()
        visible_at_s = now + max(0.0, delay_s)
        ids = [uuid.uuid4().hex for _ in bodies]
        with self._changed:
            for message_id, body in zip(ids, bodies, strict=True):
                entry = _Entry(message_id, body, next(self._seq), visible_at_s, sent_at_s=now)
                self._entries[message_id] = entry
            self._changed.notify_all()
        return ids

    def receive(
        self, max_messages: int = 1, wait_s: float = 0.0, visibility_timeout_s: float = 30.0
    ) -> list[Message]:
        if max_messages < 1:
            raise ValueError(f"max_messages must be >= 1, got {max_messages}")
        deadline = time.monotonic() + wait_s
        with self._changed:
            while True:
                messages = self._take(max_messages, visibility_timeout_s)
                left_s = deadline - time.monotonic()
                if messages or left_s <= 0:
                    return messages
                self._changed.wait(min(left_s, self._seconds_to_next_visible()))

    def ack(self, message: Message) -> None:
        with self._changed:
            if self._owned(message, "ack") is not None:
                del self._entries[message.id]

    def retry(self, message: Message, delay_s: float, reason: str) -> None:
        with self._changed:
            entry = self._owned(message, "retry")
            if entry is None:
                return
            if entry.receive_count >= self._max_receives:
                self._bury(entry, give_up_reason(entry.receive_count, reason))
                return
            entry.visible_at_s = self._clock() + max(0.0, delay_s)
            entry.receipt = None
            entry.last_error = reason
            self._changed.notify_all()

    def defer(self, message: Message, delay_s: float, reason: str) -> None:
        with self._changed:
            entry = self._owned(message, "defer")
            if entry is None:
                return
            entry.visible_at_s = self._clock() + max(0.0, delay_s)
            entry.receipt = None
            entry.receive_count = max(entry.receive_count - 1, 0)
            self._changed.notify_all()
        logger.info("message %s deferred %.1f s: %s", message.id, delay_s, reason)

    def extend(self, message: Message, visibility_timeout_s: float) -> None:
        with self._changed:
            entry = self._owned(message, "extend")
            if entry is not None:
                entry.visible_at_s = self._clock() + visibility_timeout_s

    def dead_letter(self, message: Message, reason: str) -> None:
        with self._changed:
            entry = self._owned(message, "dead_letter")
            if entry is not None:
                self._bury(entry, reason)

    def stats(self) -> QueueStats:
        now = self._clock()
        with self._changed:
            entries = list(self._entries.values())
            dead = len(self._dead)
        waiting = [e for e in entries if e.visible_at_s > now]
        in_flight = sum(1 for e in waiting if e.receipt is not None)
        oldest_sent_s = min((e.sent_at_s for e in entries), default=None)
        return QueueStats(
            ready=len(entries) - len(waiting),
            in_flight=in_flight,
            delayed=len(waiting) - in_flight,
            dead=dead,
            oldest_age_s=None if oldest_sent_s is None else max(0.0, now - oldest_sent_s),
        )

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """The oldest ``limit`` dead letters first."""
        with self._changed:
            letters = list(self._dead.values())
        return sorted(letters, key=lambda d: d.dead_at_epoch_s)[:limit]

    def redrive(self, ids: Sequence[str] | None = None) -> int:
        now = self._clock()
        with self._changed:
            chosen = list(self._dead) if ids is None else [i for i in ids if i in self._dead]
            for message_id in chosen:
                letter = self._dead.pop(message_id)
                self._entries[message_id] = _Entry(
                    message_id, letter.body, next(self._seq), now, sent_at_s=now
                )
            self._changed.notify_all()
        if chosen:
            logger.info("redrove %d dead letters", len(chosen))
        return len(chosen)

    def close(self) -> None:
        """Nothing to release; kept for the contract."""

    def __enter__(self) -> MemoryQueue:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- helpers; the caller holds the lock -----------------------------------------------

    def _take(self, max_messages: int, visibility_timeout_s: float) -> list[Message]:
        now = self._clock()
        visible = sorted(
            (e for e in self._entries.values() if e.visible_at_s <= now),
            key=lambda e: (e.visible_at_s, e.seq),
        )
        taken: list[Message] = []
        for entry in visible:
            if len(taken) == max_messages:
                break
            if entry.receive_count >= self._max_receives:
                self._bury(entry, give_up_reason(entry.receive_count, entry.last_error))
                continue
            entry.receive_count += 1
            entry.receipt = uuid.uuid4().hex
            entry.visible_at_s = now + visibility_timeout_s
            taken.append(Message(entry.id, entry.body, entry.receive_count, entry.receipt))
        return taken

    def _seconds_to_next_visible(self) -> float:
        if not self._entries:
            return float("inf")
        next_s = min(e.visible_at_s for e in self._entries.values()) - self._clock()
        return max(_MIN_WAIT_S, next_s)

    def _owned(self, message: Message, action: str) -> _Entry | None:
        entry = self._entries.get(message.id)
        if entry is None or entry.receipt != message.receipt:
            logger.info("%s of message %s ignored: stale receipt", action, message.id)
            return None
        return entry

    def _bury(self, entry: _Entry, reason: str) -> None:
        del self._entries[entry.id]
        self._dead[entry.id] = DeadLetter(
            entry.id, entry.body, entry.receive_count, reason, self._clock()
        )
        logger.warning("message %s dead-lettered: %s", entry.id, reason)
