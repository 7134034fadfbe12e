"""``aircraftml fake-bluesky``: run the local fake of Bluesky's XRPC API.

    aircraftml fake-bluesky --port 8083

A bot started with ``AIRCRAFTML_NETWORKS=bluesky``,
``AIRCRAFTML_BLUESKY_SERVICE_URL=http://127.0.0.1:8083``, the printed handle and app
password, ``AIRCRAFTML_BLUESKY_MEDIA_HOSTS=127.0.0.1`` and
``AIRCRAFTML_ALLOW_INSECURE_MEDIA_FOR_TESTING=true`` talks to it.
"""

from __future__ import annotations

import time

import click

from aircraftml.fakes.bluesky import FakeBluesky, FakeBlueskyConfig
from aircraftml.platforms.fake_x import LoopbackServer


@click.command("fake-bluesky")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8083, show_default=True, type=int)
@click.option("--bot-handle", default=FakeBlueskyConfig.bot_handle, show_default=True)
@click.option(
    "--app-password",
    envvar="AIRCRAFTML_BLUESKY_APP_PASSWORD",
    default=FakeBlueskyConfig.bot_password,
)
@click.option("--access-ttl-s", default=7200.0, show_default=True, type=float)
def fake_bluesky(
    host: str, port: int, bot_handle: str, app_password: str, access_ttl_s: float
) -> None:
    """Run a local fake of Bluesky's XRPC API that records the bot's replies."""
    fake = FakeBluesky(
        FakeBlueskyConfig(
            bot_handle=bot_handle, bot_password=app_password, access_ttl_s=access_ttl_s
        )
    )
    with LoopbackServer(fake.app, host=host, port=port) as server:
        fake.set_public_base_url(server.base_url)
        url = server.base_url
        click.echo(f"fake Bluesky on {url}  (bot @{bot_handle}, app password {app_password})")
        click.echo(f"  replies:  GET  {url}/_fake/replies")
        click.echo(
            f'  mention:  POST {url}/_fake/mention {{"author", "text", "photos_base64", '
            '"reply_to", "bot", "description"}'
        )
        click.echo(f'  faults:   POST {url}/_fake/faults {{"path", "kind", "count", "delay_s"}}')
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            click.echo("fake Bluesky stopped")
