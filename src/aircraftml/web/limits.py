"""What keeps a public upload page from being used against the machine it runs on.

- ``UploadLimits``: how large a photo may be, in bytes (checked while it arrives) and in
  pixels (checked on its header, before anything is decoded).
- ``ConcurrencyCap``: at most N recognitions at once; the next one is refused at once (the
  page answers 503 with Retry-After) instead of queueing up behind them.
- ``RateLimiter``: at most ``per_minute`` uploads per client (a token bucket per address,
  refilled continuously); the buckets of idle clients are forgotten.

Nothing here stores a photo: limits count requests, never keep their bytes.
"""

from __future__ import annotations

import io
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from aircraftml.errors import PhotoError
from aircraftml.vision.image import ACCEPTED_FORMATS


@dataclass(frozen=True, slots=True)
class UploadLimits:
    max_bytes: int = 10_000_000
    max_pixels: int = 40_000_000
    max_concurrent: int = 2
    per_client_per_minute: int = 20


def check_pixels(data: bytes, max_pixels: int) -> None:
    """Raise ``PhotoError`` when the photo's header declares more than ``max_pixels``.

    Only the header is read (Pillow opens lazily); the pixels are decoded later, by the
    recognizer, once this has passed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS) as image:
                width, height = image.size
        except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError):
            return  # the recognizer's decoder words these refusals
        except ValueError:
            return
    if width * height > max_pixels:
        raise PhotoError(
            f"photo is {width}x{height} pixels, over this page's limit of "
            f"{max_pixels / 1_000_000:g} megapixels"
        )


class ConcurrencyCap:
    """A count of work in hand, refused beyond ``limit``. Used from one event loop only."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0

    def try_acquire(self) -> bool:
        if self.in_use >= self.limit:
            return False
        self.in_use += 1
        return True

    def release(self) -> None:
        self.in_use -= 1


class RateLimiter:
    """A token bucket of ``per_minute`` tokens per client key."""

    def __init__(
        self,
        per_minute: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 10_000,
    ) -> None:
        self._capacity = float(per_minute)
        self._refill_per_s = per_minute / 60.0
        self._clock = clock
        self._max_clients = max_clients
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    @property
    def tracked_clients(self) -> int:
        return len(self._buckets)

    def allow(self, key: str) -> float:
        """0.0 when ``key`` may go ahead now (a token is spent), else the seconds to wait."""
        now = self._clock()
        tokens, at = self._buckets.get(key, (self._capacity, now))
        tokens = min(self._capacity, tokens + (now - at) * self._refill_per_s)
        if tokens >= 1.0:
            self._remember(key, tokens - 1.0, now)
            return 0.0
        self._remember(key, tokens, now)
        return math.ceil((1.0 - tokens) / self._refill_per_s * 10) / 10

    def _remember(self, key: str, tokens: float, now: float) -> None:
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self._max_clients:
            self._forget_full_buckets(now)

    def _forget_full_buckets(self, now: float) -> None:
        """Drop clients whose bucket has refilled (they are as if never seen); if that is
        not enough, the oldest half."""
        full_after_s = self._capacity / self._refill_per_s
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full_after_s}
        if len(self._buckets) > self._max_clients:
            newest = sorted(self._buckets.items(), key=lambda item: item[1][1])
            self._buckets = dict(newest[len(newest) // 2 :])
