"""The page's limits: a token bucket per client, a cap on work in hand, pixels on the header."""

from __future__ import annotations

import pytest

from aircraftml.demo import draw_airliner
from aircraftml.errors import PhotoError
from aircraftml.web.limits import ConcurrencyCap, RateLimiter, check_pixels
from web_support import png_header_only


def test_rate_limiter_allows_a_burst_then_says_how_long_to_wait(clock) -> None:
    # Given 6 uploads a minute per client
    limiter = RateLimiter(6, clock=clock)
    # When one client sends 7 at once
    waits = [limiter.allow("1.2.3.4") for _ in range(7)]
    # Then 6 pass and the 7th waits for one token (10 s), while another client passes
    assert waits[:6] == [0.0] * 6
    assert waits[6] == pytest.approx(10.0)
    assert limiter.allow("5.6.7.8") == 0.0
    # And after 10 s the first client may send one more, not two
    clock.advance(10.0)
    assert limiter.allow("1.2.3.4") == 0.0
    assert limiter.allow("1.2.3.4") > 0


def test_rate_limiter_forgets_idle_clients_within_its_bound(clock) -> None:
    limiter = RateLimiter(60, clock=clock, max_clients=100)
    for n in range(100):
        limiter.allow(f"10.0.0.{n}")
    clock.advance(120.0)  # every bucket has refilled
    limiter.allow("10.0.1.1")
    assert limiter.tracked_clients == 1


def test_concurrency_cap_refuses_beyond_its_limit() -> None:
    cap = ConcurrencyCap(2)
    assert cap.try_acquire() and cap.try_acquire()
    assert not cap.try_acquire()
    cap.release()
    assert cap.try_acquire()


def test_pixels_are_checked_on_the_header_before_decoding() -> None:
    # Given a PNG declaring 9000 x 9000 (81 MP) with almost no data
    bomb = png_header_only(9000, 9000)
    assert len(bomb) < 200
    # Then it is refused against a 40 MP limit, naming its size
    with pytest.raises(PhotoError, match="9000x9000 pixels"):
        check_pixels(bomb, 40_000_000)
    # And a real photo within the limit passes
    check_pixels(draw_airliner(), 40_000_000)
