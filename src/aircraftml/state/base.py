"""The idempotency store contract: claim a key, complete it, or release it.

``claim`` is atomic across processes (and machines, for the distributed backends): of two
workers claiming one key at once, exactly one gets ``FRESH``. An in-progress claim expires
after its ``ttl_s`` so a crashed worker's key can be claimed again.

Each FRESH claim carries an owner ``token``. ``renew`` keeps a claim alive while its owner
works and answers False once the claim is lost (it expired and someone else claimed the
key); ``complete`` and ``release`` given the token act only while the caller still owns
the claim, so a worker that overran its ``ttl_s`` cannot complete or free a key that
another worker has claimed since. An IN_PROGRESS answer says when that claim expires.

Records (``put_record``...) keep small JSON values by kind and key for good: what the bot
answered (so a reply to it can be read as feedback), the corrections people send, who
asked to be left alone.

``pause``/``paused_until`` keep one shared "wait until" time per name (a rate limit that
every worker must honour); a later pause never shortens an earlier one.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol


class ClaimStatus(enum.Enum):
    FRESH = "fresh"  # the caller now owns the key and must complete or release it
    IN_PROGRESS = "in_progress"  # another worker owns it and its claim has not expired
    DONE = "done"  # completed earlier; ``result`` holds what was recorded


@dataclass(frozen=True, slots=True)
class Claim:
    """What ``claim`` found. ``token`` (FRESH) proves ownership to ``renew``, ``complete``
    and ``release``; ``expires_at_epoch_s`` (IN_PROGRESS) is when the other claim runs out.
    Neither takes part in equality: a claim is FRESH, IN_PROGRESS or DONE with a result."""

    status: ClaimStatus
    result: str | None = None
    token: str | None = field(default=None, compare=False)
    expires_at_epoch_s: float | None = field(default=None, compare=False)


class StateStore(Protocol):
    def claim(self, key: str, ttl_s: float) -> Claim: ...

    def renew(self, key: str, token: str, ttl_s: float) -> bool:
        """Extend our in-progress claim to ``ttl_s`` from now; False if it is no longer ours."""
        ...

    def complete(
        self, key: str, result: str, keep_s: float | None = None, token: str | None = None
    ) -> bool:
        """Mark the key done, recording ``result`` (e.g. the reply's post id).

        Done for good when ``keep_s`` is None; otherwise the key can be claimed afresh
        ``keep_s`` seconds from now (for "at most once per window" keys). With ``token``,
        only while that claim is still the key's (True if so); without, unconditionally.
        """
        ...

    def release(self, key: str, token: str | None = None) -> None:
        """Give up an in-progress claim (ours, when ``token`` is given) so the key can be
        claimed again at once."""
        ...

    def pause(self, name: str, until_epoch_s: float) -> None:
        """Record that ``name`` is paused until ``until_epoch_s`` (the later pause wins)."""
        ...

    def paused_until(self, name: str) -> float:
        """When the pause on ``name`` ends (seconds since the epoch); 0.0 when none is set."""
        ...

    def put_record(self, kind: str, key: str, value: str) -> None:
        """Keep ``value`` (JSON, small) under ``(kind, key)`` for good, replacing any."""
        ...

    def get_record(self, kind: str, key: str) -> str | None:
        """The value kept under ``(kind, key)``, or None."""
        ...

    def delete_record(self, kind: str, key: str) -> None:
        """Forget ``(kind, key)`` (nothing happens when it is not there)."""
        ...

    def records(self, kind: str) -> list[tuple[str, str]]:
        """Every ``(key, value)`` of ``kind``, sorted by key (for exports, not hot paths)."""
        ...

    def close(self) -> None: ...


def once_per_window(store: StateStore, key: str, window_s: float) -> bool:
    """True the first time ``key`` is seen in a window of ``window_s`` seconds, else False.

    At most once: the key is marked done before the caller acts, so a caller that fails
    after a True will not be asked again before the window ends. For example, the help
    reply: ``if once_per_window(state, f"help:{user_id}", window_s=3600): send_help()``.
    """
    if store.claim(key, ttl_s=window_s).status is not ClaimStatus.FRESH:
        return False
    store.complete(key, "", keep_s=window_s)
    return True
