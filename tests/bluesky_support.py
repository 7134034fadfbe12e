"""A fake Bluesky on a loopback port, and the client pointed at it, for the Bluesky tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from aircraftml.fakes.bluesky import FakeBluesky, FakeBlueskyConfig
from aircraftml.platforms.bluesky.client import BlueskyClient
from aircraftml.platforms.fake_x import LoopbackServer


@contextmanager
def served(fake: FakeBluesky) -> Iterator[str]:
    with LoopbackServer(fake.app) as server:
        fake.set_public_base_url(server.base_url)
        yield server.base_url


def fast_fake_bluesky(**config: object) -> FakeBluesky:
    """A fake Bluesky whose rate limits no test reaches unless it sets its own."""
    fake = FakeBluesky(FakeBlueskyConfig(**config))  # type: ignore[arg-type]
    fake.set_rate_limit("api", 1_000_000, 300.0)
    fake.set_rate_limit("session", 1_000_000, 300.0)
    return fake


def client_for(fake: FakeBluesky, base_url: str, password: str | None = None) -> BlueskyClient:
    return BlueskyClient(
        fake.config.bot_handle,
        password or fake.config.bot_password,
        service_url=base_url,
        media_hosts=("127.0.0.1",),
        allow_insecure_media_for_testing=True,
    )
