"""The platform adapter contract: what the handler needs from a social network.

An adapter maps the network's HTTP errors onto ``aircraftml.errors`` in one place:
``RateLimited(until)`` for 429, ``TransientError`` for 5xx, timeouts and dropped
connections, ``DuplicateContent`` for a refused duplicate post, ``PermanentError`` for
other 4xx, ``PhotoError`` for a photo that cannot be fetched within the limits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Post:
    """A post as the handler needs it: who wrote it, its photos, what it replies to."""

    id: str
    author_id: str
    author_handle: str
    text: str
    photo_urls: tuple[str, ...] = ()
    in_reply_to_id: str | None = None


@dataclass(frozen=True, slots=True)
class ReplyImage:
    data: bytes
    mime_type: str
    alt_text: str


class Platform(Protocol):
    name: str

    def fetch_post(self, post_id: str) -> Post:
        """Look a post up with its photos (for deliveries that carry none)."""
        ...

    def download_photo(self, url: str) -> bytes:
        """Fetch a photo from the platform's media hosts, within size/time/redirect limits."""
        ...

    def post_reply(self, in_reply_to_id: str, text: str, images: Sequence[ReplyImage]) -> str:
        """Reply to a post, with up to 4 images; returns the new post's id."""
        ...

    def find_reply(self, in_reply_to_id: str) -> str | None:
        """The id of our own reply to a post, as the network records it; None if none."""
        ...

    def close(self) -> None: ...
