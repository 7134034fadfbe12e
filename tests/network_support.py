"""One face for the fake Mastodon and the fake Bluesky, so the end-to-end tests and the
benchmark run the same scenarios on each network."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import bluesky_support
import mastodon_support
from aircraftml.fakes.bluesky import FakeBluesky
from aircraftml.fakes.mastodon import FakeMastodon

NETWORKS = ("mastodon", "bluesky")


@dataclass
class FakeNetwork:
    name: str
    fake: Any  # FakeMastodon | FakeBluesky
    base_url: str

    def handle(self, name: str) -> str:
        return f"{name}.bsky.social" if self.name == "bluesky" else name

    @property
    def bot_handle(self) -> str:
        if isinstance(self.fake, FakeBluesky):
            return self.fake.config.bot_handle
        return str(self.fake.config.bot_username)

    def mention(
        self, author: str, text: str, photos: Sequence[bytes] = (), parent: str | None = None
    ) -> str:
        text = f"@{self.bot_handle} {text}"
        if isinstance(self.fake, FakeBluesky):
            return self.fake.mention(self.handle(author), text, photos, reply_to=parent)
        return str(self.fake.mention(author, text, photos, in_reply_to_id=parent))

    def post(self, author: str, text: str, photos: Sequence[bytes]) -> str:
        return (
            str(self.fake.create_post(self.handle(author), text, photos))
            if isinstance(self.fake, FakeBluesky)
            else str(self.fake.create_status(author, text, photos))
        )

    def delete(self, post_id: str) -> None:
        if isinstance(self.fake, FakeBluesky):
            self.fake.delete_post(post_id)
        else:
            self.fake.delete_status(post_id)

    def replied_to(self) -> list[str]:
        """The post each reply answers, one entry per reply."""
        if isinstance(self.fake, FakeBluesky):
            return [r.parent_uri for r in self.fake.replies]
        return [r.in_reply_to_id or "" for r in self.fake.replies]

    def replies_to(self, post_id: str) -> list[Any]:
        return list(self.fake.replies_to(post_id))

    def reply_id(self, reply: Any) -> str:
        return str(reply.uri if isinstance(self.fake, FakeBluesky) else reply.id)

    def on_reply(self, callback: Callable[[Any], None]) -> None:
        self.fake.config.on_reply = callback

    def limit_calls(self, limit: int, window_s: float) -> None:
        self.fake.set_rate_limit("api", limit, window_s)

    def statuses_seen(self) -> list[int]:
        return [status for _, _, status in self.fake.faults.log]

    def bot_marked(self) -> bool:
        if isinstance(self.fake, FakeBluesky):
            return "bot" in self.fake.bot.labels
        return bool(self.fake.bot.bot)


@contextmanager
def fake_network(name: str) -> Iterator[FakeNetwork]:
    fake: FakeMastodon | FakeBluesky
    if name == "bluesky":
        fake = bluesky_support.fast_fake_bluesky()
        with bluesky_support.served(fake) as base_url:
            yield FakeNetwork(name, fake, base_url)
    else:
        fake = mastodon_support.fast_fake_mastodon()
        with mastodon_support.served(fake) as base_url:
            yield FakeNetwork(name, fake, base_url)
