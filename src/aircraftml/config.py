"""Settings for the bot, from environment variables and an optional TOML file, checked at start.

Every setting has an environment variable ``AIRCRAFTML_<NAME>`` and a key ``<name>`` in the
config file (``[aircraftml]`` table or top level); the environment wins. Errors name the
setting where it was given (the variable, or the file and its key) and say what is wrong;
every value is checked here, before anything starts. ``unknown_variables`` finds
``AIRCRAFTML_*`` variables that are no setting (a typo such as ``AIRCRAFTML_WORKER``).
Secrets are never printed: ``Settings.describe()`` masks them.

The README's table of settings is generated from this class (``scripts/settings_table.py``;
a test fails when the two differ).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aircraftml.errors import ConfigError

ENV_PREFIX = "AIRCRAFTML_"
DEFAULT_QUEUE_URL = "sqlite://var/queue.sqlite3"
DEFAULT_STATE_URL = "sqlite://var/state.sqlite3"
# Variables with the prefix that are not settings but are read elsewhere.
# variables that are no setting of the bot but are read elsewhere: the settings file, and the
# credentials only `aircraftml x` (webhook and subscription management) takes
OTHER_VARIABLES = frozenset(
    {
        "AIRCRAFTML_CONFIG",
        "AIRCRAFTML_X_BEARER_TOKEN",
        "AIRCRAFTML_X_OAUTH2_CLIENT_ID",
        "AIRCRAFTML_X_OAUTH2_CLIENT_SECRET",
        "AIRCRAFTML_X_OAUTH2_ACCESS_TOKEN",
        "AIRCRAFTML_X_OAUTH2_REFRESH_TOKEN",
    }
)
QUEUE_SCHEMES = ("sqlite", "memory", "sqs")
STATE_SCHEMES = ("sqlite", "memory", "dynamodb")
MAX_VISIBILITY_TIMEOUT_S = 12 * 3600  # SQS's maximum


def env_name(setting: str) -> str:
    """A setting's environment variable: ``x_access_token`` -> ``AIRCRAFTML_X_ACCESS_TOKEN``."""
    return ENV_PREFIX + setting.upper()


NETWORKS = ("x", "mastodon", "bluesky")


def _setting(
    default: Any = dataclasses.MISSING,
    *,
    secret: bool = False,
    doc: str = "",
    network: str | None = None,
    shown: str | None = None,
) -> Any:
    """A setting; with ``network``, required (non-empty) when that network is served;
    ``shown``: its default as the README's table says it."""
    metadata = {"secret": secret, "doc": doc, "network": network, "shown": shown}
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Settings:
    networks: tuple[str, ...] = _setting(
        ("x",),
        doc="the networks served: e.g. `mastodon,bluesky` or `x,mastodon,bluesky`; "
        "the X settings are needed only with `x`",
    )
    bot_user_id: str = _setting("", network="x", doc="the bot account's numeric X user id")
    bot_handle: str = _setting("", network="x", doc="the bot account's @handle, without the @")
    x_consumer_key: str = _setting("", secret=True, network="x", doc="the X app's API key")
    x_consumer_secret: str = _setting(
        "", secret=True, network="x", doc="the X app's API secret (signs webhooks)"
    )
    x_access_token: str = _setting(
        "", secret=True, network="x", doc="the bot account's OAuth 1.0a token"
    )
    x_access_token_secret: str = _setting(
        "", secret=True, network="x", doc="the bot account's token secret"
    )
    x_api_base_url: str = _setting("https://api.x.com", doc="X's API (or a fake X's) base URL")
    x_media_hosts: tuple[str, ...] = _setting(
        ("pbs.twimg.com", "ton.twimg.com"),
        doc="the only hosts photos are downloaded from (a fake X: its host)",
    )
    allow_insecure_media_for_testing: bool = _setting(
        False, doc="allow plain-http photo URLs (only for a local fake X)"
    )
    mastodon_base_url: str = _setting(
        "", network="mastodon", doc="the bot's Mastodon instance, e.g. `https://mastodon.social`"
    )
    mastodon_access_token: str = _setting(
        "", secret=True, network="mastodon", doc="the bot account's token (scopes read, write)"
    )
    mastodon_media_hosts: tuple[str, ...] = _setting(
        (),
        shown="the instance's host",
        doc="hosts Mastodon photos are downloaded from (add the instance's media CDN)",
    )
    bluesky_handle: str = _setting("", network="bluesky", doc="the bot's Bluesky handle")
    bluesky_app_password: str = _setting(
        "", secret=True, network="bluesky", doc="an app password of the bot's Bluesky account"
    )
    bluesky_service_url: str = _setting("https://bsky.social", doc="the Bluesky account's PDS")
    bluesky_media_hosts: tuple[str, ...] = _setting(
        ("cdn.bsky.app",), doc="hosts Bluesky photos may come from"
    )
    poll_interval_s: float = _setting(1.0, doc="seconds between polls of a network's mentions")
    queue_url: str = _setting(
        DEFAULT_QUEUE_URL,
        doc="the request queue: `sqlite://PATH`, `memory://` or `sqs://region/account/name`",
    )
    state_url: str = _setting(
        DEFAULT_STATE_URL,
        doc="the idempotency store: `sqlite://PATH`, `memory://` or `dynamodb://table`",
    )
    host: str = _setting(
        "127.0.0.1", doc="the webhook listens here (`/webhook`, `/healthz`, `/readyz`)"
    )
    port: int = _setting(8080, doc="the webhook's port")
    workers: int = _setting(2, doc="worker processes")
    threads_per_worker: int = _setting(1, doc="inference threads per worker")
    max_body_bytes: int = _setting(1_000_000, doc="larger webhook bodies get 413")
    request_timeout_s: float = _setting(
        10.0, doc="time a webhook client has to send one whole request, headers and body"
    )
    max_connections: int = _setting(500, doc="webhook connections open at once, at most")
    visibility_timeout_s: float = _setting(
        120.0, doc="time a worker has for one mention before another may take it"
    )
    max_receives: int = _setting(
        5, doc="tries before a mention is dead-lettered (SQLite; SQS has its own)"
    )
    photo_max_bytes: int = _setting(15_000_000, doc="largest photo downloaded")
    photo_timeout_s: float = _setting(
        15.0, doc="time allowed to download one photo, connect to last byte"
    )
    detector_path: Path | None = _setting(None, doc="an ONNX detector (YOLOv8 or COCO-SSD layout)")
    classifier_dir: Path | None = _setting(
        None, doc="a classifier directory written by `aircraftml train`"
    )
    registry: Path | None = _setting(
        None, doc="registrations -> exact types: an FAA database folder or a CSV", shown="none"
    )
    read_registrations: bool = _setting(
        True, doc="read registrations (when the registration extra is installed)"
    )
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
        sources = {name: f"{config_file}: {name}" for name in raw}
        for item in dataclasses.fields(cls):
            if (name := env_name(item.name)) in environ:
                raw[item.name] = environ[name]
                sources[item.name] = name
        unknown = set(raw) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"{config_file}: unknown setting(s) {', '.join(sorted(unknown))}")
        values = {
            f.name: _convert(f, raw[f.name], sources[f.name])
            for f in dataclasses.fields(cls)
            if f.name in raw
        }
        networks = values.get("networks", ("x",))
        missing = [
            env_name(f.name)
            for f in dataclasses.fields(cls)
            if (f.default is dataclasses.MISSING and f.name not in values)
            or (f.metadata.get("network") in networks and not values.get(f.name))
        ]
        if missing:
            raise ConfigError(f"missing setting(s): {', '.join(missing)}")
        settings = cls(**values)
        settings.validate(sources)
        return settings

    @classmethod
    def unknown_variables(cls, environ: Mapping[str, str]) -> list[str]:
        """A warning for each ``AIRCRAFTML_*`` variable that is no setting, with a guess."""
        known = {env_name(f.name) for f in dataclasses.fields(cls)}
        warnings = []
        for name in sorted(environ):
            if name.startswith(ENV_PREFIX) and name not in known | OTHER_VARIABLES:
                guess = difflib.get_close_matches(name, sorted(known), n=1)
                hint = f" (did you mean {guess[0]}?)" if guess else ""
                warnings.append(f"{name} is not a setting and is ignored{hint}")
        return warnings

    def validate(self, sources: Mapping[str, str] | None = None) -> None:
        """Check every value; ConfigError names the setting as it was given (``sources``)."""
        check = _Checker(sources or {})
        check(bool(self.networks), "networks", f"must name at least one of {', '.join(NETWORKS)}")
        unknown = sorted(set(self.networks) - set(NETWORKS))
        check(
            not unknown,
            "networks",
            f"has {', '.join(unknown)}; the networks are {', '.join(NETWORKS)}",
        )
        if "x" in self.networks:
            check(self.bot_user_id.isdigit(), "bot_user_id", "must be X's numeric user id")
            check(bool(self.bot_handle.lstrip("@")), "bot_handle", "must not be empty")
            check(
                self.x_api_base_url.startswith(("https://", "http://")),
                "x_api_base_url",
                "must be an http(s) URL",
            )
            check(bool(self.x_media_hosts), "x_media_hosts", "must name at least one host")
        if "mastodon" in self.networks:
            check(
                self.mastodon_base_url.startswith(("https://", "http://")),
                "mastodon_base_url",
                "must be an http(s) URL",
            )
        if "bluesky" in self.networks:
            check(
                self.bluesky_service_url.startswith(("https://", "http://")),
                "bluesky_service_url",
                "must be an http(s) URL",
            )
            check(
                bool(self.bluesky_media_hosts), "bluesky_media_hosts", "must name at least one host"
            )
        for name in ("x_media_hosts", "mastodon_media_hosts", "bluesky_media_hosts"):
            check(
                all("/" not in h and ":" not in h for h in getattr(self, name)),
                name,
                "must be host names only (no scheme, port or path)",
            )
        check(math.isfinite(self.poll_interval_s), "poll_interval_s", "must be a finite number")
        check(self.poll_interval_s >= 0.1, "poll_interval_s", "must be >= 0.1")
        check(bool(self.host), "host", "must not be empty")
        check(1 <= self.port <= 65535, "port", "must be 1..65535")
        check(self.workers >= 1, "workers", "must be at least 1")
        check(self.threads_per_worker >= 1, "threads_per_worker", "must be at least 1")
        check(self.max_body_bytes >= 1024, "max_body_bytes", "must be at least 1024")
        check(self.max_connections >= 1, "max_connections", "must be at least 1")
        check(self.max_receives >= 1, "max_receives", "must be at least 1")
        check(self.photo_max_bytes >= 1024, "photo_max_bytes", "must be at least 1024")
        for name in ("request_timeout_s", "photo_timeout_s", "visibility_timeout_s"):
            check(math.isfinite(getattr(self, name)), name, "must be a finite number of seconds")
        check(self.request_timeout_s > 0, "request_timeout_s", "must be more than 0")
        check(self.photo_timeout_s > 0, "photo_timeout_s", "must be more than 0")
        check(
            5 <= self.visibility_timeout_s <= MAX_VISIBILITY_TIMEOUT_S,
            "visibility_timeout_s",
            f"must be 5..{MAX_VISIBILITY_TIMEOUT_S}",
        )
        check(self.log_format in ("text", "json"), "log_format", "must be text or json")
        check(self.web_max_upload_bytes >= 1024, "web_max_upload_bytes", "must be >= 1024")
        check(self.web_max_pixels >= 1, "web_max_pixels", "must be at least 1")
        check(self.web_max_concurrent >= 1, "web_max_concurrent", "must be at least 1")
        check(self.web_rate_per_minute >= 1, "web_rate_per_minute", "must be at least 1")
        _check_url(check, "queue_url", self.queue_url, QUEUE_SCHEMES)
        _check_url(check, "state_url", self.state_url, STATE_SCHEMES)
        _check_models(check, self.detector_path, self.classifier_dir)

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


def _convert(item: dataclasses.Field[Any], value: Any, source: str) -> Any:
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
        raise ConfigError(f"{source}: {value!r} is not a valid {kind}") from None


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(value)


class _Checker:
    """``check(ok, setting, problem)``: ConfigError naming the setting where it was given."""

    def __init__(self, sources: Mapping[str, str]) -> None:
        self._sources = sources

    def __call__(self, ok: bool, name: str, problem: str) -> None:
        if not ok:
            raise ConfigError(f"{self._sources.get(name, env_name(name))} {problem}")


def _check_url(check: _Checker, name: str, url: str, schemes: tuple[str, ...]) -> None:
    scheme, separator, rest = url.partition("://")
    known = ", ".join(f"{s}://" for s in schemes)
    check(bool(separator) and scheme in schemes, name, f"{url!r}: unknown scheme (known: {known})")
    check(
        scheme == "memory" or bool(rest.split("?")[0]), name, f"{url!r}: nothing after {scheme}://"
    )


def _check_models(check: _Checker, detector_path: Path | None, classifier_dir: Path | None) -> None:
    if detector_path is not None:
        check(detector_path.is_file(), "detector_path", f"{str(detector_path)!r} is not a file")
    if classifier_dir is not None:
        check(
            (classifier_dir / "model.onnx").is_file(),
            "classifier_dir",
            f"{str(classifier_dir)!r} is not a classifier directory (no model.onnx in it)",
        )


def settings_table() -> str:
    """Every setting as the README's Markdown table (``scripts/settings_table.py`` writes it)."""
    rows = ["| setting | default | |", "| --- | --- | --- |"]
    for item in dataclasses.fields(Settings):
        rows.append(f"| `{env_name(item.name)}` | {_default_text(item)} | {item.metadata['doc']} |")
    return "\n".join(rows)


def _default_text(item: dataclasses.Field[Any]) -> str:
    if item.default is dataclasses.MISSING:
        return "required"
    if item.metadata.get("shown"):
        return str(item.metadata["shown"])
    if item.default == "" and item.metadata.get("network"):
        return f"required with `{item.metadata['network']}`"
    if item.default is None:
        return "the shipped one"
    if isinstance(item.default, tuple):
        return f"`{','.join(item.default)}`"
    if isinstance(item.default, bool):
        return f"`{str(item.default).lower()}`"
    return f"`{item.default}`"
