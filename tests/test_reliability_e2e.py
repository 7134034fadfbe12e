"""Lost or doubled replies (issue 17), end to end with real processes on SQLite files: the
real webhook and workers, the fake X over HTTP with its rate limits and injected faults,
and workers killed with SIGKILL. Each test reproduces one way a reply was lost or doubled.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aircraftml.platforms.fake_x import FakeX, FakeXServer
from e2e_support import Bot, fast_fake_x, jpeg, settled, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def fake() -> Iterator[tuple[FakeX, str]]:
    fake = fast_fake_x()
    with FakeXServer(fake) as server:
        yield fake, server.base_url


@pytest.fixture
def bot(fake: tuple[FakeX, str], tmp_path: Path) -> Iterator[Bot]:
    fake_x, base_url = fake
    bot = Bot(fake_x, base_url, tmp_path)
    yield bot
    bot.stop()


def test_a_rate_limit_backlog_is_answered_in_full_and_nothing_is_dead_lettered(
    fake: tuple[FakeX, str], bot: Bot
) -> None:
    fake_x, _ = fake
    # Given X allows 5 replies per 2 s (X: 100 per 15 min; the shape is what matters)
    fake_x.set_rate_limit("POST /2/tweets", 5, window_s=2.0)
    bot.start("webhook")
    bot.start("worker")
    bot.start("worker")
    fake_x.register_webhook(bot.webhook_url)
    queue = bot.queue()
    # When 60 users mention the bot at once (3 tries each before a dead letter)
    photo = jpeg(size=(160, 120))
    posts = [str(fake_x.mention(f"user{n}", "plane?", photos=[photo]).post_id) for n in range(60)]
    # Then all 60 are answered, once each, and nothing is dead-lettered
    wait_for(lambda: len(fake_x.replies) >= 60 or queue.stats().dead > 0, 120, "60 replies")
    wait_for(lambda: settled(queue), 30, "an empty queue")
    assert queue.stats().dead == 0
    assert sorted(r.in_reply_to_id for r in fake_x.replies) == sorted(posts)
    # And the pool waited for the window instead of hammering X: few 429s per window
    refused = sum(1 for m, p, s in fake_x.request_log if (m, p, s) == ("POST", "/2/tweets", 429))
    assert refused <= 60
