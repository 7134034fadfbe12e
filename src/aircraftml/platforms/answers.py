"""What every platform client does around one HTTP exchange, in one place: a failure to get
an answer (connect, timeout, dropped link, bad URL) becomes that network's error through its
``map_error``, which reads the network's own error answers and leaves the rest to
``no_answer_error``; a success that is not the JSON it should be is a ``TransientError`` (a
proxy's error page, a truncated body: worth another try).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from aircraftml.errors import AircraftMLError, PermanentError, TransientError

MapError = Callable[[httpx.Response | Exception, str], AircraftMLError]


def no_answer_error(problem: Exception, what: str) -> AircraftMLError:
    """The error for an exchange that got no answer to read, the same on every network: a
    timeout or a failed link is worth another try; a bad URL, or a misused stream, is not."""
    if isinstance(problem, httpx.TimeoutException):
        return TransientError(f"{what}: timed out ({type(problem).__name__})")
    if isinstance(problem, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return PermanentError(f"{what}: invalid URL ({problem})")
    if isinstance(problem, httpx.TransportError | httpx.DecodingError):
        return TransientError(f"{what}: connection failed ({type(problem).__name__}: {problem})")
    return PermanentError(f"{what}: {type(problem).__name__}: {problem}")


@contextmanager
def guarded(what: str, map_error: MapError) -> Iterator[None]:
    """httpx's failures inside, as the network's errors (``map_error(exc, what)``)."""
    try:
        yield
    except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
        raise map_error(exc, what) from exc


def json_object(
    response: httpx.Response, what: str, map_error: MapError, *, empty_ok: bool = False
) -> dict[str, Any]:
    """The answer's JSON object; with ``empty_ok``, ``{}`` for an empty success (X answers
    some calls so)."""
    body = _json(response, what, map_error, empty={} if empty_ok else None)
    if not isinstance(body, dict):
        raise TransientError(f"{what}: response is not a JSON object")
    return body


def json_list(response: httpx.Response, what: str, map_error: MapError) -> list[dict[str, Any]]:
    """The answer's JSON list, its objects only."""
    body = _json(response, what, map_error, empty=None)
    if not isinstance(body, list):
        raise TransientError(f"{what}: response is not a JSON list")
    return [item for item in body if isinstance(item, dict)]


def _json(response: httpx.Response, what: str, map_error: MapError, *, empty: Any) -> Any:
    if response.is_error:
        raise map_error(response, what)
    if not response.content and empty is not None:
        return empty
    try:
        return response.json()
    except ValueError as exc:
        raise TransientError(f"{what}: response is not JSON") from exc
