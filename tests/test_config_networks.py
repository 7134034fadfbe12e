"""Settings that choose the networks: each network's credentials are required only when it
is served, and errors name the settings."""

from __future__ import annotations

import pytest

from aircraftml.config import Settings
from aircraftml.errors import ConfigError

MASTODON = {
    "AIRCRAFTML_NETWORKS": "mastodon",
    "AIRCRAFTML_MASTODON_BASE_URL": "https://mastodon.example",
    "AIRCRAFTML_MASTODON_ACCESS_TOKEN": "token",
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
