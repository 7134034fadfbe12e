"""``aircraftml x``: register the bot's webhook with X and subscribe the bot to it.

    aircraftml x register-webhook https://bot.example.com/webhooks/x
    aircraftml x webhooks
    aircraftml x revalidate WEBHOOK_ID
    aircraftml x subscribe WEBHOOK_ID                 # Account Activity (OAuth 1.0a user)
    aircraftml x subscribe --activity WEBHOOK_ID      # X Activity mentions (OAuth 2.0 user)
    aircraftml x unsubscribe WEBHOOK_ID               # or --activity SUBSCRIPTION_ID
    aircraftml x delete-webhook WEBHOOK_ID

The webhook endpoints take only the app-only bearer token (``AIRCRAFTML_X_BEARER_TOKEN``),
kept apart from the bot's user tokens: ``AIRCRAFTML_X_CONSUMER_KEY``... (OAuth 1.0a) for an
Account Activity subscription, and an OAuth 2.0 user token with its refresh token for the X
Activity API's private mention events (``--oauth2-token-file``, rewritten when X rotates
the refresh token, or ``AIRCRAFTML_X_OAUTH2_ACCESS_TOKEN``/``_REFRESH_TOKEN``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import httpx

from aircraftml.config import Settings
from aircraftml.errors import AircraftMLError
from aircraftml.platforms.x_auth import BearerToken, OAuth1, OAuth2UserToken

if TYPE_CHECKING:
    from aircraftml.platforms.x_webhooks import XWebhookAdmin

# the X client is imported when a command runs: it creates the bot's metrics, which `serve`
# must find unmade until it has chosen their folder (metrics_dir)
DEFAULT_BASE_URL = Settings.x_api_base_url

ENV = "AIRCRAFTML_"


def _env(name: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(f"--{name.replace('_', '-')}", name, envvar=ENV + name.upper(), **options)


def _app_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = _env("x_bearer_token", required=True, help="The app-only bearer token.")(command)
    return _env("x_api_base_url", default=DEFAULT_BASE_URL, show_default=True)(command)


@click.group("x")
def x() -> None:
    """Manage the bot's webhook and subscriptions on X (V2 Webhooks, Account Activity and
    X Activity APIs)."""


@x.command("register-webhook")
@click.argument("url")
@_app_options
def register_webhook(url: str, x_bearer_token: str, x_api_base_url: str) -> None:
    """Register URL (https, no port); X checks it with a CRC challenge first."""
    with _admin(x_bearer_token, x_api_base_url) as admin:
        hook = _run(lambda: admin.register(url))
    click.echo(f"webhook {hook.id} registered: {hook.url} (valid: {hook.valid})")
    click.echo(f"next: aircraftml x subscribe {hook.id}")


@x.command("webhooks")
@_app_options
def webhooks(x_bearer_token: str, x_api_base_url: str) -> None:
    """List the app's webhooks and whether X considers each valid."""
    with _admin(x_bearer_token, x_api_base_url) as admin:
        found = _run(admin.webhooks)
        for hook in found:
            users = _run(functools.partial(admin.subscribers, hook.id))
            state = "valid" if hook.valid else "INVALID (run: aircraftml x revalidate ID)"
            click.echo(f"{hook.id}  {hook.url}  {state}  subscribed: {', '.join(users) or '-'}")
        if not found:
            click.echo("no webhook registered")
            return
        for sub in _run(admin.activity_subscriptions):
            click.echo(
                f"  X Activity {sub.id}: {sub.event_type} of {sub.user_id} -> {sub.webhook_id}"
            )


@x.command("revalidate")
@click.argument("webhook_id")
@_app_options
def revalidate(webhook_id: str, x_bearer_token: str, x_api_base_url: str) -> None:
    """Ask X for a new CRC check, which makes an invalid webhook valid again."""
    with _admin(x_bearer_token, x_api_base_url) as admin:
        valid = _run(lambda: admin.revalidate(webhook_id))
    click.echo(f"webhook {webhook_id}: {'valid' if valid else 'still invalid'}")
    if not valid:
        raise SystemExit(1)


@x.command("delete-webhook")
@click.argument("webhook_id")
@_app_options
def delete_webhook(webhook_id: str, x_bearer_token: str, x_api_base_url: str) -> None:
    """Delete the webhook at X (its subscriptions go with it)."""
    with _admin(x_bearer_token, x_api_base_url) as admin:
        _run(lambda: admin.delete(webhook_id))
    click.echo(f"webhook {webhook_id} deleted")


def _user_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for name in (
        "x_consumer_key",
        "x_consumer_secret",
        "x_access_token",
        "x_access_token_secret",
        "x_oauth2_client_id",
        "x_oauth2_client_secret",
        "x_oauth2_access_token",
        "x_oauth2_refresh_token",
    ):
        command = _env(name, default=None, help=None)(command)
    command = click.option(
        "--oauth2-token-file",
        type=click.Path(dir_okay=False, path_type=Path),
        help='JSON {"access_token", "refresh_token"}; rewritten when X rotates them.',
    )(command)
    return _env("bot_user_id", default=None, help="The bot's numeric user id.")(command)


@x.command("subscribe")
@click.argument("webhook_id")
@click.option("--activity", is_flag=True, help="X Activity API mentions (OAuth 2.0 user).")
@_app_options
@_user_options
def subscribe(webhook_id: str, activity: bool, **options: Any) -> None:
    """Deliver the bot's mentions to WEBHOOK_ID."""
    with _admin(
        options["x_bearer_token"], options["x_api_base_url"], _user_auth(activity, options)
    ) as admin:
        if activity:
            bot = _required(options, "bot_user_id")
            subscription = _run(lambda: admin.subscribe_mentions(webhook_id, bot))
            click.echo(f"X Activity subscription {subscription}: mentions of {bot} -> {webhook_id}")
        else:
            _run(lambda: admin.subscribe(webhook_id))
            click.echo(f"the bot is subscribed to webhook {webhook_id} (Account Activity)")


@x.command("unsubscribe")
@click.argument("webhook_or_subscription_id")
@click.option("--activity", is_flag=True, help="The id is an X Activity subscription's.")
@_app_options
@_user_options
def unsubscribe(webhook_or_subscription_id: str, activity: bool, **options: Any) -> None:
    """Stop delivering the bot's events (app-only bearer token)."""
    with _admin(options["x_bearer_token"], options["x_api_base_url"]) as admin:
        if activity:
            _run(lambda: admin.unsubscribe_activity(webhook_or_subscription_id))
        else:
            bot = _required(options, "bot_user_id")
            _run(lambda: admin.unsubscribe(webhook_or_subscription_id, bot))
    click.echo(f"unsubscribed ({webhook_or_subscription_id})")


# --- helpers --------------------------------------------------------------------------


def _admin(bearer: str, base_url: str, user_auth: httpx.Auth | None = None) -> XWebhookAdmin:
    from aircraftml.platforms.x_webhooks import XWebhookAdmin

    return XWebhookAdmin(BearerToken(bearer), user_auth, base_url=base_url)


def _run(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except AircraftMLError as exc:
        raise click.ClickException(str(exc)) from None


def _required(options: dict[str, Any], name: str) -> str:
    value = options.get(name)
    if not value:
        raise click.UsageError(f"needs --{name.replace('_', '-')} (or {ENV}{name.upper()})")
    return str(value)


def _user_auth(activity: bool, options: dict[str, Any]) -> httpx.Auth:
    if not activity:
        keys = ("x_consumer_key", "x_consumer_secret", "x_access_token", "x_access_token_secret")
        return OAuth1(*(_required(options, k) for k in keys))
    token_file: Path | None = options.get("oauth2_token_file")
    tokens = json.loads(token_file.read_text()) if token_file and token_file.exists() else {}
    access = tokens.get("access_token") or _required(options, "x_oauth2_access_token")
    refresh = tokens.get("refresh_token") or _required(options, "x_oauth2_refresh_token")
    return OAuth2UserToken(
        access,
        refresh,
        _required(options, "x_oauth2_client_id"),
        options.get("x_oauth2_client_secret"),
        token_url=options["x_api_base_url"].rstrip("/") + "/2/oauth2/token",
        on_refresh=lambda a, r: _save_tokens(token_file, a, r),
    )


def _save_tokens(token_file: Path | None, access_token: str, refresh_token: str) -> None:
    if token_file is None:
        click.echo(
            "X rotated the OAuth 2.0 refresh token; the one given is spent. Pass "
            "--oauth2-token-file to keep the new one.",
            err=True,
        )
        return
    token_file.write_text(
        json.dumps({"access_token": access_token, "refresh_token": refresh_token})
    )
    token_file.chmod(0o600)
