"""The request that travels from the dispatcher through the queue to the handler.

A Request is small and JSON-serialisable: ids and URLs, never image bytes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Request:
    """One mention of the bot that the handler should answer.

    ``photo_urls`` may be empty: the handler then looks the post up (the X Activity API
    delivers posts without media) and, failing that, the parent post it replies to.
    """

    platform: str
    post_id: str
    author_id: str
    author_handle: str
    text: str
    photo_urls: tuple[str, ...] = ()
    in_reply_to_id: str | None = None
    received_at_epoch_s: float = 0.0
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def idempotency_key(self) -> str:
        """The key that guards against replying twice to the same post."""
        return f"{self.platform}:reply:{self.post_id}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Request:
        data: dict[str, Any] = json.loads(text)
        data["photo_urls"] = tuple(data.get("photo_urls", ()))
        return cls(**data)
