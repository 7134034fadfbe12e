"""``aircraftml fake-x``: run the local fake of X for demos and manual tests.

    aircraftml fake-x --port 8081 --webhook-url http://127.0.0.1:8080/webhooks/x

The credentials default to the fake's own and read the bot's environment variables
(``AIRCRAFTML_X_CONSUMER_KEY``...). It prints the exact settings a bot needs to talk to it
(credentials, ``X_API_BASE_URL``, ``X_MEDIA_HOSTS``, ``ALLOW_INSECURE_MEDIA_FOR_TESTING``) as
``export`` lines to paste into the shell that runs ``aircraftml serve``.
"""

from __future__ import annotations

import shlex
import time

import click

from aircraftml.platforms.fake_x import FakeX, FakeXConfig, FakeXServer, WebhookRegistrationError

_DEFAULTS = FakeXConfig()


def _delays(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise click.BadParameter(f"{text!r} is not a comma-separated list of seconds") from exc


@click.command("fake-x")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8081, show_default=True, type=int)
@click.option("--webhook-url", default=None, help="The bot's webhook; registered with a CRC check.")
@click.option("--consumer-key", envvar="AIRCRAFTML_X_CONSUMER_KEY", default=_DEFAULTS.consumer_key)
@click.option(
    "--consumer-secret",
    envvar="AIRCRAFTML_X_CONSUMER_SECRET",
    default=_DEFAULTS.consumer_secret,
    help="Signs webhook deliveries and CRC answers.",
)
@click.option("--access-token", envvar="AIRCRAFTML_X_ACCESS_TOKEN", default=_DEFAULTS.access_token)
@click.option(
    "--access-token-secret",
    envvar="AIRCRAFTML_X_ACCESS_TOKEN_SECRET",
    default=_DEFAULTS.access_token_secret,
)
@click.option("--bot-handle", default=_DEFAULTS.bot_handle, show_default=True)
@click.option("--bot-user-id", default=_DEFAULTS.bot_user_id, show_default=True)
@click.option(
    "--retry-delays",
    default="3,33,300",
    show_default=True,
    help="Seconds between webhook delivery attempts (X's legacy schedule).",
)
def fake_x(
    host: str,
    port: int,
    webhook_url: str | None,
    consumer_key: str,
    consumer_secret: str,
    access_token: str,
    access_token_secret: str,
    bot_handle: str,
    bot_user_id: str,
    retry_delays: str,
) -> None:
    """Run a local fake of X's API that delivers signed webhooks and records replies."""
    config = FakeXConfig(
        consumer_key=consumer_key,
        consumer_secret=consumer_secret,
        access_token=access_token,
        access_token_secret=access_token_secret,
        bot_user_id=bot_user_id,
        bot_handle=bot_handle,
        retry_delays_s=_delays(retry_delays),
        allow_insecure_webhooks_for_testing=True,  # the bot listens on loopback http
    )
    fake = FakeX(config)
    with FakeXServer(fake, host=host, port=port) as server:
        _print_usage(server.base_url, config)
        _print_bot_settings(fake, server.base_url)
        if webhook_url:
            _register(fake, webhook_url)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            click.echo("fake X stopped")


def _register(fake: FakeX, url: str) -> None:
    try:
        fake.register_webhook(url)
    except WebhookRegistrationError as exc:
        click.echo(f"webhook {url} not registered: {exc}", err=True)
        click.echo('start the bot, then: POST /_fake/webhook {"url": ...}', err=True)
    else:
        click.echo(f"webhook registered (CRC passed): {url}")


def _print_bot_settings(fake: FakeX, base_url: str) -> None:
    click.echo("\nthe bot's settings for this fake (then: aircraftml serve):")
    for name, value in fake.bot_environ(base_url).items():
        click.echo(f"  export {name}={shlex.quote(value)}")
    click.echo(
        f'then register its webhook: POST {base_url}/_fake/webhook {{"url": '
        '"http://127.0.0.1:8080/webhook"}, or start fake-x with --webhook-url'
    )


def _print_usage(base_url: str, config: FakeXConfig) -> None:
    click.echo(f"fake X on {base_url}  (bot @{config.bot_handle}, id {config.bot_user_id})")
    click.echo(f"  replies:    GET  {base_url}/_fake/replies")
    click.echo(f"  deliveries: GET  {base_url}/_fake/deliveries")
    click.echo(
        f"  mention:    POST {base_url}/_fake/mention "
        '{"author_handle", "text", "photos_base64": [...], "in_reply_to", "envelope"}'
    )
    click.echo(f'  post:       POST {base_url}/_fake/posts {{"author_handle", "text", ...}}')
    click.echo(f'  faults:     POST {base_url}/_fake/faults {{"path", "kind", "count", "delay_s"}}')
    click.echo(f'  webhook:    POST {base_url}/_fake/webhook {{"url"}}  (registers and subscribes)')
    click.echo(
        f"  or as on X: AIRCRAFTML_X_API_BASE_URL={base_url} "
        f"AIRCRAFTML_X_BEARER_TOKEN={config.app_bearer_tokens[0]} aircraftml x register-webhook URL"
    )
    click.echo(f"  photos are served from {base_url}/media/<media_key>.jpg")
