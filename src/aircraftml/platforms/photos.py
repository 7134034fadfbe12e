"""Photo downloads within limits, for every platform adapter (X, Mastodon, Bluesky).

Only ``https`` (plain http only when ``allow_insecure_for_testing``, for a local fake), only
the network's media hosts, at most ``max_redirects`` hops, each re-checked, at most
``max_bytes`` (declared or received), and one deadline of ``timeout_s`` for the whole
download, every redirect, connect and byte (the client's transport is a
``DeadlineTransport``). 429 and 5xx, dropped connections and other transport failures are
the network's (its ``map_error``); the rest is a ``PhotoError`` that says why:

    not https, not a media host, too many redirects  -> PhotoRefused
    over max_bytes                                   -> PhotoTooLarge
    over timeout_s                                   -> PhotoTimedOut
    404 and other 4xx, not an image, empty           -> PhotoUnavailable
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable, Sequence

import httpx

from aircraftml.errors import (
    AircraftMLError,
    PhotoRefused,
    PhotoTimedOut,
    PhotoTooLarge,
    PhotoUnavailable,
)
from aircraftml.platforms.http_deadline import within_deadline

MapError = Callable[[httpx.Response | Exception, str], AircraftMLError]


class PhotoFetcher:
    def __init__(
        self,
        http: httpx.Client,
        *,
        media_hosts: Sequence[str],
        map_error: MapError,
        host_kind: str = "a media host",
        max_bytes: int = 15_000_000,
        timeout_s: float = 15.0,
        max_redirects: int = 3,
        allow_insecure_for_testing: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._hosts = frozenset(host.lower() for host in media_hosts)
        self._map_error = map_error
        self._host_kind = host_kind  # for messages: "an X media host"
        self._max_bytes = max_bytes
        self._timeout_s = timeout_s
        self._max_redirects = max_redirects
        self._schemes = ("https", "http") if allow_insecure_for_testing else ("https",)
        self._clock = clock

    def download(self, url: str) -> bytes:
        deadline = self._clock() + self._timeout_s
        with within_deadline(self._timeout_s):
            for _hop in range(self._max_redirects + 1):
                self._check_url(url)
                try:
                    location, data = self._hop(url, deadline)
                except httpx.TimeoutException as exc:
                    raise self._too_slow(url) from exc
                except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
                    raise self._map_error(exc, f"download photo {url}") from exc
                if data is not None:
                    return data
                url = urllib.parse.urljoin(url, location or "")
        raise PhotoRefused(f"photo {url}: more than {self._max_redirects} redirects")

    def _check_url(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme.lower() not in self._schemes:
            raise PhotoRefused(f"photo {url}: only https URLs are fetched")
        if (parts.hostname or "").lower() not in self._hosts:
            host = parts.hostname
            raise PhotoRefused(f"photo {url}: host {host!r} is not {self._host_kind}")

    def _hop(self, url: str, deadline: float) -> tuple[str | None, bytes | None]:
        """One GET: ``(location, None)`` for a redirect, ``(None, bytes)`` for the photo."""
        remaining_s = deadline - self._clock()
        if remaining_s <= 0:
            raise self._too_slow(url)
        with self._http.stream("GET", url, timeout=remaining_s, auth=None) as response:
            if response.is_redirect:
                return response.headers.get("location", ""), None
            if response.status_code == 429 or response.status_code >= 500:
                response.read()
                raise self._map_error(response, f"download photo {url}")
            if response.is_error:
                raise PhotoUnavailable(f"photo {url}: HTTP {response.status_code}")
            self._check_headers(url, response.headers)
            return None, self._read_capped(url, response, deadline)

    def _check_headers(self, url: str, headers: httpx.Headers) -> None:
        content_type = headers.get("content-type", "image/")
        if not content_type.lower().startswith("image/"):
            raise PhotoUnavailable(f"photo {url}: not an image ({content_type})")
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            raise PhotoTooLarge(f"photo {url}: {declared} bytes, above {self._max_bytes}")

    def _read_capped(self, url: str, response: httpx.Response, deadline: float) -> bytes:
        received = bytearray()
        for chunk in response.iter_bytes():
            received += chunk
            if len(received) > self._max_bytes:
                raise PhotoTooLarge(f"photo {url}: more than {self._max_bytes} bytes")
            if self._clock() > deadline:
                raise self._too_slow(url)
        if not received:
            raise PhotoUnavailable(f"photo {url}: empty")
        return bytes(received)

    def _too_slow(self, url: str) -> PhotoTimedOut:
        return PhotoTimedOut(f"photo {url}: took more than {self._timeout_s} s")
