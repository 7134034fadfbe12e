"""``aircraftml fake-mastodon``: run the local fake of a Mastodon instance.

    aircraftml fake-mastodon --port 8082

A bot started with ``AIRCRAFTML_NETWORKS=mastodon``,
``AIRCRAFTML_MASTODON_BASE_URL=http://127.0.0.1:8082`` and the printed token talks to it.
"""

from __future__ import annotations

import time

import click

from aircraftml.fakes.mastodon import FakeMastodon, FakeMastodonConfig
from aircraftml.platforms.fake_x import LoopbackServer


@click.command("fake-mastodon")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8082, show_default=True, type=int)
@click.option("--bot-username", default=FakeMastodonConfig.bot_username, show_default=True)
@click.option(
    "--access-token",
    envvar="AIRCRAFTML_MASTODON_ACCESS_TOKEN",
    default=FakeMastodonConfig.bot_token,
)
@click.option("--media-processing-s", default=0.0, show_default=True, type=float)
def fake_mastodon(
    host: str, port: int, bot_username: str, access_token: str, media_processing_s: float
) -> None:
    """Run a local fake of a Mastodon instance's API that records the bot's replies."""
    fake = FakeMastodon(
        FakeMastodonConfig(
            bot_username=bot_username,
            bot_token=access_token,
            media_processing_s=media_processing_s,
        )
    )
    with LoopbackServer(fake.app, host=host, port=port) as server:
        fake.set_public_base_url(server.base_url)
        url = server.base_url
        click.echo(f"fake Mastodon on {url}  (bot @{bot_username}, token {access_token})")
        click.echo(f"  replies:  GET  {url}/_fake/replies")
        click.echo(
            f'  mention:  POST {url}/_fake/mention {{"author", "text", "photos_base64", '
            '"visibility", "in_reply_to_id", "bot", "note"}'
        )
        click.echo(f'  faults:   POST {url}/_fake/faults {{"path", "kind", "count", "delay_s"}}')
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            click.echo("fake Mastodon stopped")
