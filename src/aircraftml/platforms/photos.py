"""Photo downloads within limits, for the adapters of the open networks (Mastodon, Bluesky).

Only ``https`` (plain http only when ``allow_insecure_for_testing``, for a local fake), only
the network's media hosts, at most ``max_bytes`` and ``timeout_s`` in all, at most
``max_redirects`` hops, each re-checked. 429 and 5xx are the network's (``map_error``);
anything else wrong with the photo is a ``PhotoError``. (The X adapter keeps its own copy in
``platforms/x.py``; it predates this module and is being reworked in parallel.)
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable, Sequence

import httpx

from aircraftml.errors import AircraftMLError, PhotoError, TransientError


class PhotoFetcher:
    def __init__(
        self,
        http: httpx.Client,
        *,
        media_hosts: Sequence[str],
        map_error: Callable[[httpx.Response], AircraftMLError],
        max_bytes: int = 15_000_000,
        timeout_s: float = 15.0,
        max_redirects: int = 3,
        allow_insecure_for_testing: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._hosts = frozenset(host.lower() for host in media_hosts)
        self._map_error = map_error
        self._max_bytes = max_bytes
        self._timeout_s = timeout_s
        self._max_redirects = max_redirects
        self._schemes = ("https", "http") if allow_insecure_for_testing else ("https",)
        self._clock = clock

    def download(self, url: str) -> bytes:
        deadline = self._clock() + self._timeout_s
        for _hop in range(self._max_redirects + 1):
            self._check_url(url)
            try:
                location, data = self._hop(url, deadline)
            except httpx.TimeoutException as exc:
                raise PhotoError(f"photo {url}: timed out") from exc
            except (httpx.HTTPError, httpx.StreamError) as exc:
                raise TransientError(f"photo {url}: {type(exc).__name__}: {exc}") from exc
            if data is not None:
                return data
            url = urllib.parse.urljoin(url, location or "")
        raise PhotoError(f"photo {url}: more than {self._max_redirects} redirects")

    def _check_url(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme.lower() not in self._schemes:
            raise PhotoError(f"photo {url}: only https URLs are fetched")
        if (parts.hostname or "").lower() not in self._hosts:
            raise PhotoError(f"photo {url}: host {parts.hostname!r} is not a media host")

    def _hop(self, url: str, deadline: float) -> tuple[str | None, bytes | None]:
        remaining_s = deadline - self._clock()
        if remaining_s <= 0:
            raise PhotoError(f"photo {url}: took more than {self._timeout_s} s")
        with self._http.stream("GET", url, timeout=remaining_s, auth=None) as response:
            if response.is_redirect:
                return response.headers.get("location", ""), None
            if response.status_code == 429 or response.status_code >= 500:
                response.read()
                raise self._map_error(response)
            if response.is_error:
                raise PhotoError(f"photo {url}: HTTP {response.status_code}")
            content_type = response.headers.get("content-type", "image/")
            if not content_type.lower().startswith("image/"):
                raise PhotoError(f"photo {url}: not an image ({content_type})")
            received = bytearray()
            for chunk in response.iter_bytes():
                received += chunk
                if len(received) > self._max_bytes:
                    raise PhotoError(f"photo {url}: more than {self._max_bytes} bytes")
                if self._clock() > deadline:
                    raise PhotoError(f"photo {url}: took more than {self._timeout_s} s")
        if not received:
            raise PhotoError(f"photo {url}: empty")
        return None, bytes(received)
