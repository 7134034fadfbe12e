"""Settings for the bot, from environment variables and an optional TOML file, checked at start.

Every setting has an environment variable ``AIRCRAFTML_<NAME>`` and a key ``<name>`` in the
config file (``[aircraftml]`` table or top level); the environment wins. Errors name the
setting and say what is wrong. Secrets are never printed: ``Settings.describe()`` masks them.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aircraftml.errors import ConfigError

ENV_PREFIX = "AIRCRAFTML_"
DEFAULT_QUEUE_URL = "sqlite://var/queue.sqlite3"
DEFAULT_STATE_URL = "sqlite://var/state.sqlite3"


def env_name(setting: str) -> str:
    """A setting's environment variable: ``x_access_token`` -> ``AIRCRAFTML_X_ACCESS_TOKEN``."""
    return ENV_PREFIX + setting.upper()


def _setting(default: Any = dataclasses.MISSING, *, secret: bool = False, doc: str = "") -> Any:
    return field(default=default, metadata={"secret": secret, "doc": doc})


@dataclass(frozen=True)
class Settings:
    bot_user_id: str = _setting(doc="the bot account's numeric X user id")
    bot_handle: str = _setting(doc="the bot account's @handle, without the @")
    x_consumer_key: str = _setting(secret=True, doc="the X app's API key")
    x_consumer_secret: str = _setting(secret=True, doc="the X app's API secret (signs webhooks)")
    x_access_token: str = _setting(secret=True, doc="the bot account's OAuth 1.0a token")
    x_access_token_secret: str = _setting(secret=True, doc="the bot account's token secret")
    x_api_base_url: str = _setting("https://api.x.com", doc="X's API (or a fake X's) base URL")
    x_media_hosts: tuple[str, ...] = _setting(
        ("pbs.twimg.com", "ton.twimg.com"), doc="hosts photos may be downloaded from"
    )
    allow_insecure_media_for_testing: bool = _setting(
        False, doc="allow http photo URLs (only for a local fake X)"
    )
    queue_url: str = _setting(DEFAULT_QUEUE_URL, doc="request queue")
    state_url: str = _setting(DEFAULT_STATE_URL, doc="idempotency store")
    host: str = _setting("127.0.0.1", doc="webhook listen address")
    port: int = _setting(8080, doc="webhook listen port")
    workers: int = _setting(2, doc="worker processes")
    threads_per_worker: int = _setting(1, doc="inference threads per worker")
    max_body_bytes: int = _setting(1_000_000, doc="largest webhook body accepted")
    visibility_timeout_s: float = _setting(120.0, doc="time a worker has for one request")
    max_receives: int = _setting(5, doc="tries before a request is dead-lettered")
    photo_max_bytes: int = _setting(15_000_000, doc="largest photo downloaded")
    photo_timeout_s: float = _setting(15.0, doc="time allowed to download one photo")
    detector_path: Path | None = _setting(None, doc="an ONNX detector (default: shipped)")
    classifier_dir: Path | None = _setting(None, doc="a trained classifier (default: shipped)")
    log_format: str = _setting("text", doc="text, or json: one JSON object a line")
    admin_token: str = _setting(
        "", secret=True, doc="turns on /admin, the operator's dashboard (off when empty)"
    )
    metrics_dir: Path = _setting(
        Path("var/metrics"), doc="where serve's processes count metrics for /metrics"
    )
    web_page: bool = _setting(True, doc="serve the try-a-photo page at / beside the webhook")
    web_max_upload_bytes: int = _setting(10_000_000, doc="largest photo the page takes")
    web_max_pixels: int = _setting(40_000_000, doc="most pixels a photo on the page may have")
    web_max_concurrent: int = _setting(2, doc="photos the page recognises at once (then 503)")
    web_rate_per_minute: int = _setting(20, doc="photos one client may send the page a minute")

    @classmethod
    def load(cls, environ: Mapping[str, str], config_file: Path | None = None) -> Settings:
        """Settings from ``environ`` (over) ``config_file``; ConfigError names what is wrong."""
        raw: dict[str, Any] = dict(_read_file(config_file)) if config_file else {}
        for item in dataclasses.fields(cls):
            if (name := env_name(item.name)) in environ:
                raw[item.name] = environ[name]
        unknown = set(raw) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"{config_file}: unknown setting(s) {', '.join(sorted(unknown))}")
        values = {
            f.name: _convert(f, raw[f.name]) for f in dataclasses.fields(cls) if f.name in raw
        }
        missing = [
            env_name(f.name)
            for f in dataclasses.fields(cls)
            if f.name not in values and f.default is dataclasses.MISSING
        ]
        if missing:
            raise ConfigError(f"missing setting(s): {', '.join(missing)}")
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        _require(self.bot_user_id.isdigit(), "bot_user_id", "must be X's numeric user id")
        _require(bool(self.bot_handle.lstrip("@")), "bot_handle", "must not be empty")
        _require(self.workers >= 1, "workers", "must be at least 1")
        _require(self.threads_per_worker >= 1, "threads_per_worker", "must be at least 1")
        _require(1 <= self.port <= 65535, "port", "must be 1..65535")
        _require(self.max_body_bytes >= 1024, "max_body_bytes", "must be at least 1024")
        _require(self.visibility_timeout_s >= 5, "visibility_timeout_s", "must be >= 5")
        _require(self.max_receives >= 1, "max_receives", "must be at least 1")
        _require(self.log_format in ("text", "json"), "log_format", "must be text or json")
        _require(self.web_max_upload_bytes >= 1024, "web_max_upload_bytes", "must be >= 1024")
        _require(self.web_max_pixels >= 1, "web_max_pixels", "must be at least 1")
        _require(self.web_max_concurrent >= 1, "web_max_concurrent", "must be at least 1")
        _require(self.web_rate_per_minute >= 1, "web_rate_per_minute", "must be at least 1")
        _require(
            self.x_api_base_url.startswith(("https://", "http://")),
            "x_api_base_url",
            "must be an http(s) URL",
        )

    def describe(self) -> dict[str, str]:
        """Every setting with its value, secrets masked: safe to log."""
        return {
            f.name: "***" if f.metadata.get("secret") else str(getattr(self, f.name))
            for f in dataclasses.fields(self)
        }


def _read_file(path: Path) -> Mapping[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    table = data.get("aircraftml", data)
    if not isinstance(table, Mapping):
        raise ConfigError(f"config file {path}: [aircraftml] must be a table")
    return table


def _convert(item: dataclasses.Field[Any], value: Any) -> Any:
    name = env_name(item.name)
    kind = str(item.type)
    try:
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "bool":
            return _to_bool(value)
        if kind.startswith("tuple"):
            parts = value.split(",") if isinstance(value, str) else list(value)
            return tuple(p.strip() for p in parts if str(p).strip())
        if kind.startswith("Path"):
            return Path(value) if value not in ("", None) else None
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: {value!r} is not a valid {kind}") from None


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(value)


def _require(ok: bool, name: str, problem: str) -> None:
    if not ok:
        raise ConfigError(f"{env_name(name)} {problem}")
