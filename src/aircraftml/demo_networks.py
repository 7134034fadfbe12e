"""The demo on the open networks: the same bot, at the same time, on a fake Mastodon and a
fake Bluesky (``demo.py`` runs the story on X). The bot polls both into the queue its
workers already take X's mentions from; this module makes the fakes and tells the story."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aircraftml.fakes.bluesky import FakeBluesky, FakeBlueskyConfig
from aircraftml.fakes.mastodon import FakeMastodon
from aircraftml.platforms.fake_x import LoopbackServer


@dataclass
class OpenNetworks:
    mastodon: FakeMastodon
    bluesky: FakeBluesky

    def bot_environ(self) -> dict[str, str]:
        return {
            **self.mastodon.bot_environ(self.mastodon.base_url),
            **self.bluesky.bot_environ(self.bluesky.base_url),
        }


@contextmanager
def open_networks() -> Iterator[OpenNetworks]:
    """A fake Mastodon and a fake Bluesky on loopback ports."""
    networks = OpenNetworks(FakeMastodon(), FakeBluesky(FakeBlueskyConfig()))
    with ExitStack() as stack:
        for fake in (networks.mastodon, networks.bluesky):
            server = stack.enter_context(LoopbackServer(fake.app))
            fake.set_public_base_url(server.base_url)
        yield networks


def converse(
    networks: OpenNetworks,
    network: str,
    author: str,
    text: str,
    photos: list[bytes],
    parent_photos: list[bytes],
    out_dir: Path,
    timeout_s: float,
) -> str:
    """Mention the bot on ``network`` and describe its reply (images saved in ``out_dir``)."""
    started = time.monotonic()
    if network == "mastodon":
        fake_m = networks.mastodon
        parent = (
            fake_m.create_status("bob", "Spotted today!", parent_photos) if parent_photos else None
        )
        post = fake_m.mention(
            author, f"@{fake_m.bot.username} {text}", photos, in_reply_to_id=parent
        )
        reply: Any = _wait(lambda: fake_m.replies_to(post), timeout_s)
        images = [(m.data, m.description) for m in reply.media] if reply else []
        heading = f"\n[mastodon] @{author}: @{fake_m.bot.username} {text}"
    else:
        fake_b = networks.bluesky
        handle = f"{author}.bsky.social"
        parent = (
            fake_b.create_post("bob.bsky.social", "Spotted today!", parent_photos)
            if parent_photos
            else None
        )
        post = fake_b.mention(handle, f"@{fake_b.bot.handle} {text}", photos, reply_to=parent)
        reply = _wait(lambda: fake_b.replies_to(post), timeout_s)
        images = [(data, alt) for data, alt, _ in reply.images] if reply else []
        heading = f"\n[bluesky] @{handle}: @{fake_b.bot.handle} {text}"
    lines = [heading]
    if reply is None:
        lines.append(f"  (no reply within {timeout_s:.0f} s)")
        return "\n".join(lines)
    lines.append(f"  reply after {(time.monotonic() - started) * 1000:.0f} ms: {reply.text}")
    for number, (data, alt) in enumerate(images, start=1):
        path = out_dir / f"{network}-reply-to-{author}-{number}.jpg"
        path.write_bytes(data)
        lines.append(f"  image: {path}  (alt text: {alt})")
    return "\n".join(lines)


def _wait(found: Any, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if replies := found():
            return replies[0]
        time.sleep(0.05)
    return None
