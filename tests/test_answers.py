"""A failure to get an answer means the same on every network: one mapping, three clients."""

from __future__ import annotations

import httpx
import pytest

from aircraftml.errors import AircraftMLError, PermanentError, TransientError
from aircraftml.platforms.bluesky.client import map_error as bluesky_map_error
from aircraftml.platforms.mastodon.client import map_error as mastodon_map_error
from aircraftml.platforms.x import map_error as x_map_error

NO_ANSWER: list[tuple[Exception, type[AircraftMLError], str]] = [
    (httpx.ConnectError("refused"), TransientError, "connection failed (ConnectError: refused)"),
    (httpx.ReadTimeout("slow read"), TransientError, "timed out (ReadTimeout)"),
    (httpx.RemoteProtocolError("dropped"), TransientError, "connection failed"),
    (httpx.DecodingError("bad gzip"), TransientError, "connection failed"),
    (httpx.UnsupportedProtocol("gopher"), PermanentError, "invalid URL (gopher)"),
    (httpx.InvalidURL("no host"), PermanentError, "invalid URL (no host)"),
    (httpx.TooManyRedirects("loop"), PermanentError, "TooManyRedirects: loop"),
    (httpx.StreamClosed(), PermanentError, "StreamClosed"),
]


@pytest.mark.parametrize("map_error", [x_map_error, mastodon_map_error, bluesky_map_error])
@pytest.mark.parametrize(
    ("failure", "kind", "words"), NO_ANSWER, ids=[type(f).__name__ for f, _, _ in NO_ANSWER]
)
def test_a_failure_to_get_an_answer_is_the_same_error_on_every_network(
    map_error, failure: Exception, kind: type[AircraftMLError], words: str
) -> None:
    # Given an exchange that failed before any answer / When mapped by the network's client
    error = map_error(failure, "fetching the post")
    # Then: worth another try or not, the same everywhere, and it says what failed
    assert type(error) is kind
    assert str(error).startswith("fetching the post: ")
    assert words in str(error)
