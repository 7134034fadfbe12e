"""Settings that choose the networks: each network's credentials are required only when it
is served, and errors name the settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from aircraftml.config import Settings
from aircraftml.errors import ConfigError

MASTODON = {
    "AIRCRAFTML_NETWORKS": "mastodon",
    "AIRCRAFTML_MASTODON_BASE_URL": "https://mastodon.example",
    "AIRCRAFTML_MASTODON_ACCESS_TOKEN": "token",
}
X_TOO = {
    "AIRCRAFTML_NETWORKS": "x,mastodon",
    "AIRCRAFTML_BOT_HANDLE": "bot",
    "AIRCRAFTML_X_CONSUMER_KEY": "k",
    "AIRCRAFTML_X_CONSUMER_SECRET": "s",
    "AIRCRAFTML_X_ACCESS_TOKEN": "t",
    "AIRCRAFTML_X_ACCESS_TOKEN_SECRET": "ts",
}


def test_a_mastodon_bot_needs_no_x_settings() -> None:
    settings = Settings.load(MASTODON)
    assert settings.networks == ("mastodon",)
    assert settings.describe()["mastodon_access_token"] == "***"


def test_a_served_networks_missing_credentials_are_named() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.load({"AIRCRAFTML_NETWORKS": "mastodon,bluesky"})
    assert str(caught.value) == (
        "missing setting(s): AIRCRAFTML_MASTODON_BASE_URL, AIRCRAFTML_MASTODON_ACCESS_TOKEN, "
        "AIRCRAFTML_BLUESKY_HANDLE, AIRCRAFTML_BLUESKY_APP_PASSWORD"
    )


def test_x_settings_are_still_required_when_x_is_served() -> None:
    with pytest.raises(ConfigError, match="AIRCRAFTML_BOT_USER_ID"):
        Settings.load({**MASTODON, "AIRCRAFTML_NETWORKS": "x,mastodon"})


@pytest.mark.parametrize(
    ("networks", "problem"), [("", "at least one"), ("mastodon,myspace", "myspace")]
)
def test_unknown_or_no_networks_are_refused(networks: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        Settings.load({**MASTODON, "AIRCRAFTML_NETWORKS": networks})


def test_a_mastodon_url_must_be_http() -> None:
    with pytest.raises(ConfigError, match="AIRCRAFTML_MASTODON_BASE_URL must be an http"):
        Settings.load({**MASTODON, "AIRCRAFTML_MASTODON_BASE_URL": "mastodon.example"})


def test_the_network_settings_are_known_variables() -> None:
    assert Settings.unknown_variables({**MASTODON, "AIRCRAFTML_POLL_INTERVAL_S": "2"}) == []
    (warning,) = Settings.unknown_variables({"AIRCRAFTML_NETWORK": "mastodon"})
    assert "did you mean AIRCRAFTML_NETWORKS?" in warning


def test_a_network_setting_from_the_file_is_named_by_its_file_and_key(tmp_path: Path) -> None:
    config = tmp_path / "bot.toml"
    config.write_text("[aircraftml]\npoll_interval_s = 0.01\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        Settings.load(MASTODON, config)
    assert str(caught.value) == f"{config}: poll_interval_s must be >= 0.1"


def test_x_values_are_not_checked_when_x_is_not_served() -> None:
    settings = Settings.load({**MASTODON, "AIRCRAFTML_BOT_USER_ID": "not-a-number"})
    assert settings.networks == ("mastodon",)
    with pytest.raises(ConfigError, match="AIRCRAFTML_BOT_USER_ID must be X's numeric user id"):
        Settings.load({**MASTODON, "AIRCRAFTML_BOT_USER_ID": "not-a-number", **X_TOO})


def test_media_hosts_of_every_network_must_be_host_names() -> None:
    with pytest.raises(ConfigError, match="AIRCRAFTML_MASTODON_MEDIA_HOSTS must be host names"):
        Settings.load({**MASTODON, "AIRCRAFTML_MASTODON_MEDIA_HOSTS": "https://files.example"})
