"""The request queue: contract, backends, and ``open_queue`` to pick one from a URL.

    sqlite:///var/lib/aircraftml/queue.sqlite3   SqliteQueue at an absolute path
    sqlite://var/queue.sqlite3                   SqliteQueue at a path relative to the cwd
    memory://                                    MemoryQueue (this process only)
    sqs://<region>/<account-id>/<queue-name>     SqsQueue (the aws extra); options in the
        [?dlq=<queue-name>&endpoint_url=<url>]   query: see aircraftml.queue.sqs

Everything after ``sqlite://`` is the file's path. Keyword options go to the backend's
constructor (``max_receives=5``, ``synchronous="NORMAL"``...). A backend registers itself
by adding its scheme and an opener ``(url, **options) -> RequestQueue`` to ``_OPENERS``;
openers import their module lazily so that optional dependencies stay optional.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from aircraftml.errors import ConfigError
from aircraftml.queue.base import DeadLetter, Message, QueueStats, RequestQueue, give_up_reason

__all__ = ["DeadLetter", "Message", "QueueStats", "RequestQueue", "give_up_reason", "open_queue"]


def open_queue(url: str, **options: Any) -> RequestQueue:
    """Open the queue that ``url`` names; ConfigError for a URL no backend knows."""
    scheme, separator, _ = url.partition("://")
    opener = _OPENERS.get(scheme) if separator else None
    if opener is None:
        known = ", ".join(f"{s}://" for s in sorted(_OPENERS))
        raise ConfigError(f"queue URL {url!r}: unknown scheme (known: {known})")
    return opener(url, **options)


def _open_sqlite(url: str, **options: Any) -> RequestQueue:
    from aircraftml.queue.sqlite import SqliteQueue

    path = url.removeprefix("sqlite://")
    if not path:
        raise ConfigError(f"queue URL {url!r}: no file path after sqlite://")
    return SqliteQueue(Path(path), **options)


def _open_memory(url: str, **options: Any) -> RequestQueue:
    from aircraftml.queue.memory import MemoryQueue

    return MemoryQueue(**options)


def _open_sqs(url: str, **options: Any) -> RequestQueue:
    from aircraftml.queue.sqs import open_sqs_queue

    return open_sqs_queue(url, **options)


_OPENERS: dict[str, Callable[..., RequestQueue]] = {
    "sqlite": _open_sqlite,
    "memory": _open_memory,
    "sqs": _open_sqs,
}
