"""A fake Mastodon on a loopback port, and the client pointed at it, for the Mastodon tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from aircraftml.fakes.mastodon import FakeMastodon, FakeMastodonConfig
from aircraftml.platforms.fake_x import LoopbackServer
from aircraftml.platforms.mastodon.client import MastodonClient


@contextmanager
def served(fake: FakeMastodon) -> Iterator[str]:
    with LoopbackServer(fake.app) as server:
        fake.set_public_base_url(server.base_url)
        yield server.base_url


def fast_fake_mastodon(**config: object) -> FakeMastodon:
    """A fake Mastodon whose rate limits no test reaches unless it sets its own."""
    fake = FakeMastodon(FakeMastodonConfig(**config))  # type: ignore[arg-type]
    fake.set_rate_limit("api", 1_000_000, 300.0)
    fake.set_rate_limit("media", 1_000_000, 1800.0)
    return fake


def client_for(fake: FakeMastodon, base_url: str, token: str | None = None) -> MastodonClient:
    return MastodonClient(
        base_url,
        token or fake.config.bot_token,
        allow_insecure_media_for_testing=True,
    )
