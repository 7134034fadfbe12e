"""The idempotency store: contract, backends, and ``open_state`` to pick one from a URL.

    sqlite:///var/lib/aircraftml/state.sqlite3   SqliteStateStore at an absolute path
    sqlite://var/state.sqlite3                   SqliteStateStore relative to the cwd
    memory://                                    MemoryStateStore (this process only)
    dynamodb://<table-name>                      DynamoDbStateStore (the aws extra); query:
        [?region=<region>&endpoint_url=<url>]    see aircraftml.state.dynamodb

Everything after ``sqlite://`` is the file's path; keyword options go to the constructor.
A backend registers itself by adding its scheme and an opener to ``_OPENERS``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from aircraftml.errors import ConfigError
from aircraftml.state.base import Claim, ClaimStatus, StateStore, once_per_window

__all__ = ["Claim", "ClaimStatus", "StateStore", "once_per_window", "open_state"]


def open_state(url: str, **options: Any) -> StateStore:
    """Open the store that ``url`` names; ConfigError for a URL no backend knows."""
    scheme, separator, _ = url.partition("://")
    opener = _OPENERS.get(scheme) if separator else None
    if opener is None:
        known = ", ".join(f"{s}://" for s in sorted(_OPENERS))
        raise ConfigError(f"state URL {url!r}: unknown scheme (known: {known})")
    return opener(url, **options)


def _open_sqlite(url: str, **options: Any) -> StateStore:
    from aircraftml.state.sqlite import SqliteStateStore

    path = url.removeprefix("sqlite://")
    if not path:
        raise ConfigError(f"state URL {url!r}: no file path after sqlite://")
    return SqliteStateStore(Path(path), **options)


def _open_memory(url: str, **options: Any) -> StateStore:
    from aircraftml.state.memory import MemoryStateStore

    return MemoryStateStore(**options)


def _open_dynamodb(url: str, **options: Any) -> StateStore:
    from aircraftml.state.dynamodb import open_dynamodb_state

    return open_dynamodb_state(url, **options)


_OPENERS: dict[str, Callable[..., StateStore]] = {
    "sqlite": _open_sqlite,
    "memory": _open_memory,
    "dynamodb": _open_dynamodb,
}
