"""The request queue contract: durable, at-least-once, with a dead-letter queue.

A message is received with a visibility timeout; until it is acked, retried or
dead-lettered it is invisible to other consumers, and when the timeout passes it comes back
with its receive count raised. A message received more than ``max_receives`` times moves
to the dead-letter queue with the last error kept as its reason.

``defer`` puts a message back for later without spending one of its tries: for waits that
are not failures of the work (the platform's rate limit, a claim held by another worker).

Each delivery gets a new ``receipt``. ``ack``, ``retry``, ``defer``, ``extend`` and ``dead_letter``
act only while the message's receipt is still the one given: once its visibility timeout
has passed and another consumer has received it, the stale receipt makes them a no-op
(logged), so a slow worker can never delete or re-time a delivery it no longer owns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Message:
    """A received message. ``receipt`` identifies this one delivery of it."""

    id: str
    body: str
    receive_count: int
    receipt: str


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: str
    body: str
    receive_count: int
    reason: str
    dead_at_epoch_s: float


@dataclass(frozen=True, slots=True)
class QueueStats:
    """Counts of messages; ``oldest_age_s`` is how long the oldest message not yet done has
    waited since it was sent (None when there is none, or the backend cannot say: SQS). It
    moves with the clock, so stats compare equal on their counts alone."""

    ready: int
    in_flight: int
    delayed: int
    dead: int
    oldest_age_s: float | None = field(default=None, compare=False)


class RequestQueue(Protocol):
    def send(self, bodies: Sequence[str], delay_s: float = 0.0) -> list[str]:
        """Store the bodies durably; when this returns they survive a crash. Returns ids."""
        ...

    def receive(
        self, max_messages: int = 1, wait_s: float = 0.0, visibility_timeout_s: float = 30.0
    ) -> list[Message]:
        """Take up to ``max_messages`` visible messages, waiting up to ``wait_s`` for one."""
        ...

    def ack(self, message: Message) -> None:
        """The message is done: delete it."""
        ...

    def retry(self, message: Message, delay_s: float, reason: str) -> None:
        """Make the message visible again after ``delay_s``, remembering why it failed."""
        ...

    def defer(self, message: Message, delay_s: float, reason: str) -> None:
        """Make the message visible again after ``delay_s`` as if this receive had not
        happened: its receive count is not raised by it, so it never dead-letters for it."""
        ...

    def extend(self, message: Message, visibility_timeout_s: float) -> None:
        """Keep a slow message invisible for ``visibility_timeout_s`` more seconds."""
        ...

    def dead_letter(self, message: Message, reason: str) -> None:
        """Move the message to the dead-letter queue now, keeping ``reason``."""
        ...

    def stats(self) -> QueueStats: ...

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]: ...

    def redrive(self, ids: Sequence[str] | None = None) -> int:
        """Move dead letters (all, or those with ``ids``) back to the queue; returns how many."""
        ...

    def close(self) -> None: ...


def give_up_reason(receive_count: int, last_error: str | None) -> str:
    """The dead-letter reason of a message that used up its ``max_receives`` tries.

    Every backend words it the same way, so operators can grep for it.
    """
    why = last_error if last_error else "no error recorded (its visibility timeout expired)"
    return f"gave up after {receive_count} tries: {why}"
