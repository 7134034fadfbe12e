"""Lost or doubled replies (issue 17), end to end with real processes on SQLite files: the
real webhook and workers, the fake X over HTTP with its rate limits and injected faults,
and workers killed with SIGKILL. Each test reproduces one way a reply was lost or doubled.
"""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import sqlite3
import time
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from aircraftml.platforms.fake_x import FakeX, FakeXServer, LoopbackServer
from aircraftml.platforms.x_events import requests_from_delivery
from e2e_support import (
    Bot,
    airliner_photo,
    fast_fake_x,
    jpeg,
    replies_to,
    settled,
    wait_for,
)

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


def test_a_killed_workers_mention_is_answered_even_with_two_tries(
    fake: tuple[FakeX, str], bot: Bot
) -> None:
    fake_x, _ = fake
    # Given mentions get two tries of 10 s each, and a worker that is up (it answered one)
    bot.env |= {"AIRCRAFTML_MAX_RECEIVES": "2", "AIRCRAFTML_VISIBILITY_TIMEOUT_S": "10"}
    worker = bot.start("worker")
    queue = bot.queue()
    queue.send([_request_for(fake_x, fake_x.create_post("lee", "@aircraftml 1?", [jpeg()]))])
    wait_for(lambda: len(fake_x.replies) == 1, 60, "the first reply")
    # And a mention that X delivered twice, which the worker takes and claims, then waits on
    # a slow photo host
    post_id = fake_x.create_post("kim", "@aircraftml which one?", [jpeg((10, 20, 30))])
    fake_x.inject_fault("/media/*", "slow", count=1, delay_s=12.0)
    queue.send([_request_for(fake_x, post_id)] * 2)
    wait_for(lambda: queue.stats().in_flight == 1, 10, "the worker to take the mention")
    time.sleep(0.5)
    # When the worker is killed with SIGKILL and another takes over
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    bot.start("worker")
    # Then the mention is answered once, and neither copy is dead-lettered as "being
    # answered by another worker" while the dead worker's claim runs out
    wait_for(lambda: replies_to(fake_x, post_id), 90, "the reply")
    wait_for(lambda: settled(queue), 30, "both copies to be settled")
    assert [d.reason for d in queue.dead_letters()] == []
    assert len(replies_to(fake_x, post_id)) == 1


def test_a_mention_slower_than_the_visibility_timeout_gets_one_reply(
    fake: tuple[FakeX, str], bot: Bot
) -> None:
    fake_x, _ = fake
    # Given two workers with 6 s per mention, and a photo host that is slow and flaky: its
    # first answer trickles in over 8 s and is cut short, later ones are whole and quick
    host = FlakyPhotoHost(airliner_photo(), slow_s=8.0)
    with LoopbackServer(host) as server:
        bot.start("worker")
        bot.start("worker")
        queue = bot.queue()
        post_id = fake_x.create_post("kim", "@aircraftml what is it?")
        photo_url = f"{server.base_url}/photo.jpg"
        queue.send([_request_for(fake_x, post_id, photo_urls=(photo_url,))])
        # When the first worker is still reading the photo after the visibility timeout
        wait_for(lambda: host.requests >= 1, 60, "the first download")
        wait_for(lambda: replies_to(fake_x, post_id), 60, "a reply")
        wait_for(lambda: settled(queue), 30, "the mention to be settled")
        time.sleep(3)  # time for a second reply to show up
    # Then the mention has one reply, not one from each worker
    texts = [r.text for r in replies_to(fake_x, post_id)]
    assert len(texts) == 1, texts
    assert queue.stats().dead == 0


def test_two_mentions_that_get_the_same_words_are_both_answered(
    fake: tuple[FakeX, str], bot: Bot
) -> None:
    fake_x, _ = fake
    bot.start("webhook")
    bot.start("worker")
    fake_x.register_webhook(bot.webhook_url)
    # When a user mentions the bot twice, with two different photos without an aircraft
    first = str(fake_x.mention("sam", "this?", photos=[jpeg((200, 30, 30))]).post_id)
    wait_for(lambda: replies_to(fake_x, first), 60, "the first reply")
    second = str(fake_x.mention("sam", "and this?", photos=[jpeg((30, 200, 30))]).post_id)
    # Then both are answered: the second reply says which post it answers, so X takes it
    wait_for(lambda: replies_to(fake_x, second), 60, "the second reply")
    [one], [two] = replies_to(fake_x, first), replies_to(fake_x, second)
    assert one.text != two.text and " (for your post at " in two.text


class FlakyPhotoHost:
    """A photo host (ASGI) whose first answer trickles half the photo over ``slow_s``, then
    stops; every later answer is the whole photo at once."""

    def __init__(self, photo: bytes, slow_s: float) -> None:
        self.photo = photo
        self.slow_s = slow_s
        self.requests = 0

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.requests += 1
        headers = [(b"content-type", b"image/jpeg")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if self.requests > 1:
            await send({"type": "http.response.body", "body": self.photo})
            return
        half, pieces = self.photo[: len(self.photo) // 2], 8
        size = len(half) // pieces + 1
        for start in range(0, len(half), size):
            await send(
                {
                    "type": "http.response.body",
                    "body": half[start : start + size],
                    "more_body": True,
                }
            )
            await asyncio.sleep(self.slow_s / pieces)
        await send({"type": "http.response.body", "body": b""})


def _request_for(fake_x: FakeX, post_id: str, photo_urls: tuple[str, ...] = ()) -> str:
    """The queued request X's delivery of ``post_id`` makes (its photos replaced if given)."""
    config = fake_x.config
    [request] = requests_from_delivery(
        fake_x.event_for(post_id), config.bot_user_id, config.bot_handle, time.time()
    )
    if photo_urls:
        request = dataclasses.replace(request, photo_urls=photo_urls)
    return request.to_json()


@contextmanager
def _write_locked(path: Path, hold_s: float) -> Iterator[None]:
    """Hold SQLite's write lock on ``path`` for ``hold_s`` (another process's long write)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
        time.sleep(hold_s)
        conn.execute("COMMIT")
    finally:
        conn.close()
