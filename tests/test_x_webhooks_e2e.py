"""End to end through X's own endpoints only: ``aircraftml x register-webhook`` and
``x subscribe --activity`` against the fake, then a mention reaches the running bot (webhook
and worker processes) as an X Activity event and is answered. No admin shortcut is used."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from aircraftml.cli import main
from aircraftml.platforms.fake_x import FakeX, FakeXServer
from e2e_support import Bot, airliner_photo, fast_fake_x, replies_to, wait_for


@pytest.fixture
def fake() -> Iterator[tuple[FakeX, str]]:
    fake = fast_fake_x()
    fake.config = dataclasses.replace(fake.config, allow_insecure_webhooks_for_testing=True)
    with FakeXServer(fake) as server:
        yield fake, server.base_url


def x_command(base_url: str, fake: FakeX, *args: str) -> str:
    config = fake.config
    env = {
        "AIRCRAFTML_X_API_BASE_URL": base_url,
        "AIRCRAFTML_X_BEARER_TOKEN": config.app_bearer_tokens[0],
        "AIRCRAFTML_BOT_USER_ID": config.bot_user_id,
        "AIRCRAFTML_X_OAUTH2_CLIENT_ID": config.oauth2_client_id,
        "AIRCRAFTML_X_OAUTH2_CLIENT_SECRET": config.oauth2_client_secret,
        "AIRCRAFTML_X_OAUTH2_ACCESS_TOKEN": config.bearer_tokens[0],
        "AIRCRAFTML_X_OAUTH2_REFRESH_TOKEN": config.oauth2_refresh_token,
    }
    result = CliRunner().invoke(main, ["x", *args], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_registered_and_subscribed_through_xs_endpoints_a_mention_is_answered(
    fake: tuple[FakeX, str], tmp_path: Path
) -> None:
    fake_x, base_url = fake
    bot = Bot(fake_x, base_url, tmp_path)
    try:
        bot.start("webhook")
        bot.start("worker")
        # Given the webhook registered (CRC passed) and the bot subscribed to its mentions
        registered = x_command(base_url, fake_x, "register-webhook", bot.webhook_url)
        match = re.search(r"webhook (\d+) registered", registered)
        assert match is not None, registered
        webhook_id = match.group(1)
        x_command(base_url, fake_x, "subscribe", "--activity", webhook_id)
        listing = x_command(base_url, fake_x, "webhooks")
        assert f"{webhook_id}  {bot.webhook_url}  valid" in listing
        assert f"post.mention.create of {fake_x.config.bot_user_id} -> {webhook_id}" in listing
        # When alice mentions the bot with a photo
        delivery = fake_x.mention("alice", "what is this?", photos=[airliner_photo()])
        # Then X delivers it as an X Activity event, and the bot answers it
        assert delivery.delivered
        assert delivery.payload["data"]["event_type"] == "post.mention.create"
        wait_for(lambda: replies_to(fake_x, str(delivery.post_id)), 60, "the reply")
        [reply] = replies_to(fake_x, str(delivery.post_id))
        assert reply.text.startswith("@alice I see one aircraft")
        # And once the webhook is deleted, nothing more is delivered
        x_command(base_url, fake_x, "delete-webhook", webhook_id)
        assert "no webhook registered" in x_command(base_url, fake_x, "webhooks")
    finally:
        bot.stop()
