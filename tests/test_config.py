"""Settings come from the environment over a TOML file, are checked at start, and every
error names the setting; secrets never show in what is logged."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aircraftml.config import Settings
from aircraftml.errors import ConfigError

REQUIRED = {
    "AIRCRAFTML_BOT_USER_ID": "1000",
    "AIRCRAFTML_BOT_HANDLE": "aircraftml",
    "AIRCRAFTML_X_CONSUMER_KEY": "key",
    "AIRCRAFTML_X_CONSUMER_SECRET": "consumer-secret",
    "AIRCRAFTML_X_ACCESS_TOKEN": "token",
    "AIRCRAFTML_X_ACCESS_TOKEN_SECRET": "token-secret",
}


def test_defaults_are_the_embedded_bot() -> None:
    settings = Settings.load(REQUIRED)
    assert settings.queue_url == "sqlite://var/queue.sqlite3"
    assert settings.state_url == "sqlite://var/state.sqlite3"
    assert (settings.workers, settings.port, settings.max_receives) == (2, 8080, 5)
    assert settings.x_media_hosts == ("pbs.twimg.com", "ton.twimg.com")


def test_missing_settings_are_all_named() -> None:
    environ = {k: v for k, v in REQUIRED.items() if "SECRET" not in k}
    with pytest.raises(ConfigError) as raised:
        Settings.load(environ)
    assert str(raised.value) == (
        "missing setting(s): AIRCRAFTML_X_CONSUMER_SECRET, AIRCRAFTML_X_ACCESS_TOKEN_SECRET"
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("AIRCRAFTML_WORKERS", "two", "AIRCRAFTML_WORKERS: 'two' is not a valid int"),
        ("AIRCRAFTML_WORKERS", "0", "AIRCRAFTML_WORKERS must be at least 1"),
        ("AIRCRAFTML_PORT", "70000", "AIRCRAFTML_PORT must be 1..65535"),
        ("AIRCRAFTML_BOT_USER_ID", "@aircraftml", "AIRCRAFTML_BOT_USER_ID must be X's numeric"),
        ("AIRCRAFTML_ALLOW_INSECURE_MEDIA_FOR_TESTING", "maybe", "not a valid bool"),
        ("AIRCRAFTML_X_API_BASE_URL", "api.x.com", "must be an http(s) URL"),
        ("AIRCRAFTML_PHOTO_TIMEOUT_S", "-1", "AIRCRAFTML_PHOTO_TIMEOUT_S must be more than 0"),
        ("AIRCRAFTML_PHOTO_TIMEOUT_S", "nan", "AIRCRAFTML_PHOTO_TIMEOUT_S must be a finite"),
        ("AIRCRAFTML_PHOTO_MAX_BYTES", "0", "AIRCRAFTML_PHOTO_MAX_BYTES must be at least 1024"),
        ("AIRCRAFTML_X_MEDIA_HOSTS", "", "AIRCRAFTML_X_MEDIA_HOSTS must name at least one host"),
        ("AIRCRAFTML_X_MEDIA_HOSTS", "https://pbs.twimg.com", "must be host names only"),
        ("AIRCRAFTML_VISIBILITY_TIMEOUT_S", "inf", "AIRCRAFTML_VISIBILITY_TIMEOUT_S must be a"),
        ("AIRCRAFTML_REQUEST_TIMEOUT_S", "0", "AIRCRAFTML_REQUEST_TIMEOUT_S must be more than"),
        ("AIRCRAFTML_MAX_CONNECTIONS", "0", "AIRCRAFTML_MAX_CONNECTIONS must be at least 1"),
        ("AIRCRAFTML_STATE_URL", "redis://x", "AIRCRAFTML_STATE_URL 'redis://x': unknown scheme"),
        ("AIRCRAFTML_QUEUE_URL", "var/queue.sqlite3", "AIRCRAFTML_QUEUE_URL 'var/queue.sqlite3'"),
        ("AIRCRAFTML_QUEUE_URL", "sqlite://", "AIRCRAFTML_QUEUE_URL 'sqlite://': nothing after"),
        ("AIRCRAFTML_DETECTOR_PATH", "/no/such.onnx", "AIRCRAFTML_DETECTOR_PATH '/no/such.onnx'"),
        ("AIRCRAFTML_CLASSIFIER_DIR", "/no/model", "AIRCRAFTML_CLASSIFIER_DIR '/no/model' is not"),
    ],
)
def test_invalid_values_are_refused_naming_the_setting(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        Settings.load({**REQUIRED, name: value})


def test_the_environment_overrides_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "bot.toml"
    config.write_text('[aircraftml]\nworkers = 4\nx_media_hosts = ["127.0.0.1"]\nport = 9000\n')
    settings = Settings.load({**REQUIRED, "AIRCRAFTML_PORT": "9100"}, config)
    assert (settings.workers, settings.port, settings.x_media_hosts) == (4, 9100, ("127.0.0.1",))


def test_unknown_keys_and_broken_files_are_refused(tmp_path: Path) -> None:
    typo = tmp_path / "typo.toml"
    typo.write_text("wokers = 4\n")
    with pytest.raises(ConfigError, match="unknown setting"):
        Settings.load(REQUIRED, typo)
    broken = tmp_path / "broken.toml"
    broken.write_text("workers = \n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        Settings.load(REQUIRED, broken)
    with pytest.raises(ConfigError, match="does not exist"):
        Settings.load(REQUIRED, tmp_path / "absent.toml")


def test_a_bad_value_in_the_config_file_names_the_file_and_its_key(tmp_path: Path) -> None:
    # Given a config file with a value of the wrong type, and one out of range
    config = tmp_path / "bot.toml"
    config.write_text('[aircraftml]\nworkers = "four"\n')
    # Then the error names the file's key, not the environment variable
    with pytest.raises(ConfigError, match=re.escape(f"{config}: workers: 'four' is not a valid")):
        Settings.load(REQUIRED, config)
    config.write_text("[aircraftml]\nphoto_timeout_s = -1\n")
    with pytest.raises(ConfigError, match=re.escape(f"{config}: photo_timeout_s must be more")):
        Settings.load(REQUIRED, config)


def test_unknown_aircraftml_variables_are_named_with_a_guess() -> None:
    environ = {**REQUIRED, "AIRCRAFTML_WORKER": "4", "AIRCRAFTML_CONFIG": "bot.toml", "PATH": "/"}
    assert Settings.unknown_variables(environ) == [
        "AIRCRAFTML_WORKER is not a setting and is ignored (did you mean AIRCRAFTML_WORKERS?)"
    ]


def test_the_url_schemes_checked_are_those_the_backends_open() -> None:
    from aircraftml import queue, state
    from aircraftml.config import QUEUE_SCHEMES, STATE_SCHEMES

    assert set(QUEUE_SCHEMES) == set(queue._OPENERS)
    assert set(STATE_SCHEMES) == set(state._OPENERS)


def test_describe_masks_every_secret() -> None:
    described = Settings.load(REQUIRED).describe()
    assert "consumer-secret" not in described.values()
    assert "token-secret" not in described.values()
    assert described["x_consumer_secret"] == "***"
    assert described["bot_handle"] == "aircraftml"
