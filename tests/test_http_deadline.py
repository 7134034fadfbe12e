"""One deadline for a whole download: a photo host that dribbles its headers cannot hold a
worker past the photo time limit (it held one 149 s against a 15 s limit), on every network
(the adapters share ``platforms.photos``)."""

from __future__ import annotations

import time

import httpx
import pytest

from aircraftml.errors import PhotoTimedOut
from aircraftml.platforms.base import Platform
from aircraftml.platforms.bluesky.client import BlueskyClient
from aircraftml.platforms.http_deadline import DeadlineTransport, within_deadline
from aircraftml.platforms.mastodon.client import MastodonClient
from aircraftml.platforms.x import XClient
from aircraftml.platforms.x_auth import BearerToken
from hostile_hosts import PHOTO_ANSWER, dribble, tcp_host


def loopback_client(photo_timeout_s: float) -> XClient:
    return XClient(
        BearerToken("t"),
        media_hosts=("127.0.0.1",),
        allow_insecure_media_for_testing=True,
        photo_timeout_s=photo_timeout_s,
    )


def loopback_clients(photo_timeout_s: float) -> list[Platform]:
    hosts, insecure = ("127.0.0.1",), True
    return [
        loopback_client(photo_timeout_s),
        MastodonClient(
            "http://127.0.0.1:9",
            "token",
            media_hosts=hosts,
            allow_insecure_media_for_testing=insecure,
            photo_timeout_s=photo_timeout_s,
        ),
        BlueskyClient(
            "bot.test",
            "app-password",
            media_hosts=hosts,
            allow_insecure_media_for_testing=insecure,
            photo_timeout_s=photo_timeout_s,
        ),
    ]


@pytest.mark.parametrize("network", range(3), ids=["x", "mastodon", "bluesky"])
def test_a_host_dribbling_its_headers_is_cut_off_at_the_photo_time_limit(network: int) -> None:
    # Given a photo host that sends its answer one byte every 0.2 s (~14 s in all)
    client = loopback_clients(1.0)[network]
    with tcp_host(dribble(PHOTO_ANSWER, interval_s=0.2)) as port:
        started = time.monotonic()
        # When a photo is downloaded from it with a 1 s limit
        with pytest.raises(PhotoTimedOut, match=r"took more than 1\.0 s"):
            client.download_photo(f"http://127.0.0.1:{port}/media/slow.jpg")
        # Then the whole download, headers included, ended at the limit
        assert time.monotonic() - started < 1.5


def test_a_photo_that_arrives_within_the_limit_is_downloaded() -> None:
    # Given a host that sends its whole answer within 0.4 s
    with tcp_host(dribble(PHOTO_ANSWER, interval_s=0.005)) as port, loopback_client(5.0) as x:
        # Then the photo arrives, over the deadline-keeping transport
        assert x.download_photo(f"http://127.0.0.1:{port}/a.jpg") == b"\xff\xd8\xff\xe0"


def test_outside_a_deadline_the_transport_keeps_httpx_timeouts_only() -> None:
    # Given a slow host and a client on the deadline transport, with a 1 s read timeout
    with (
        tcp_host(dribble(PHOTO_ANSWER, interval_s=0.05)) as port,
        httpx.Client(transport=DeadlineTransport(), timeout=1.0) as client,
    ):
        url = f"http://127.0.0.1:{port}/"
        # When no deadline is set, the ~3.5 s answer arrives (every byte within 1 s)
        assert client.get(url).content == b"\xff\xd8\xff\xe0"
        # And within a 0.5 s deadline it is cut off
        started = time.monotonic()
        with pytest.raises(httpx.TimeoutException), within_deadline(0.5):
            client.get(url)
        assert time.monotonic() - started < 1.0
