"""The bot on Mastodon, end to end with real processes: ``aircraftml poll`` and
``aircraftml worker`` on SQLite files, the fake Mastodon over HTTP in this process with its
rate limits and faults, workers killed with SIGKILL. The same promises as on X: every
mention one reply, none twice, limits waited for, a poisoned mention dead-lettered with why.

The full 1,000 mentions run in ``benchmarks/bench_networks.py``; here 60 keep CI fast.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aircraftml.fakes.mastodon import FakeMastodon, FakeMastodonReply
from e2e_support import Bot, airliner_photo, jpeg, settled, wait_for
from mastodon_support import fast_fake_mastodon, served

pytestmark = pytest.mark.slow

MENTIONS = 60


@pytest.fixture
def fake() -> Iterator[tuple[FakeMastodon, str]]:
    fake = fast_fake_mastodon()
    with served(fake) as base_url:
        yield fake, base_url


@pytest.fixture
def bot(fake: tuple[FakeMastodon, str], tmp_path: Path) -> Iterator[Bot]:
    fake_mastodon, base_url = fake
    env = {"AIRCRAFTML_POLL_INTERVAL_S": "0.5"}
    bot = Bot(fake_mastodon, base_url, tmp_path, env=env)  # type: ignore[arg-type]
    yield bot
    bot.stop()


def _one_reply_each(fake: FakeMastodon, posts: list[str]) -> bool:
    return sorted(r.in_reply_to_id or "" for r in fake.replies) == sorted(posts)


def test_every_mention_gets_one_reply_with_two_pollers_and_two_workers(
    fake: tuple[FakeMastodon, str], bot: Bot
) -> None:
    fake_mastodon, _ = fake
    # Given two pollers (as on two machines) and two workers sharing the queue and state
    for command in ("poll", "poll", "worker", "worker"):
        bot.start(command)
    queue = bot.queue()
    # When many people mention the bot: most with a photo, some in a reply to a photo
    photo = jpeg(size=(160, 120))
    posts = []
    for n in range(MENTIONS):
        if n % 10 == 9:
            parent = fake_mastodon.create_status(f"spotter{n}", "look!", [photo])
            posts.append(fake_mastodon.mention(f"u{n}", "@aircraftml ?", in_reply_to_id=parent))
        else:
            posts.append(fake_mastodon.mention(f"u{n}", "@aircraftml what is it?", [photo]))
    # Then every mention has exactly one reply, and nothing is dead-lettered
    wait_for(lambda: len(fake_mastodon.replies) >= MENTIONS, 180, f"{MENTIONS} replies")
    wait_for(lambda: settled(queue), 30, "an empty queue")
    time.sleep(1.5)  # a poll or two more: time for a duplicate to show up
    assert _one_reply_each(fake_mastodon, posts)
    assert queue.stats().dead == 0
    assert fake_mastodon.bot.bot  # the poller marked the account as a bot


def test_a_photo_of_an_airliner_gets_an_annotated_unlisted_reply(
    fake: tuple[FakeMastodon, str], bot: Bot
) -> None:
    fake_mastodon, _ = fake
    bot.start("poll")
    bot.start("worker")
    post = fake_mastodon.mention("kim", "@aircraftml which one?", [airliner_photo()])
    wait_for(lambda: fake_mastodon.replies_to(post), 90, "the reply")
    [reply] = fake_mastodon.replies_to(post)
    assert reply.text.startswith("@kim ")
    assert reply.visibility == "unlisted"
    assert len(reply.media) == 1 and reply.media[0].description
    assert reply.idempotency_key


def test_a_worker_killed_between_posting_and_recording_leaves_one_reply(
    fake: tuple[FakeMastodon, str], bot: Bot
) -> None:
    fake_mastodon, _ = fake
    # Given one worker, killed (SIGKILL) the moment Mastodon records its reply, before the
    # answer reaches it and before it marks the mention done
    bot.start("poll")
    worker = bot.start("worker")
    killed: list[FakeMastodonReply] = []

    def kill_worker(reply: FakeMastodonReply) -> None:
        if not killed:
            killed.append(reply)
            os.kill(worker.pid, signal.SIGKILL)

    fake_mastodon.config.on_reply = kill_worker
    post = fake_mastodon.mention("lee", "@aircraftml ?", [jpeg()])
    wait_for(lambda: killed, 90, "the first reply")
    worker.wait()
    # When another worker takes the mention over once its visibility timeout runs out
    bot.start("worker")
    queue = bot.queue()
    wait_for(lambda: settled(queue), 90, "the mention to be settled")
    # Then the mention has the one reply, and nothing is dead-lettered
    assert [r.id for r in fake_mastodon.replies_to(post)] == [killed[0].id]
    assert queue.stats().dead == 0


def test_a_rate_limited_backlog_is_answered_in_full_and_nothing_is_dead_lettered(
    fake: tuple[FakeMastodon, str], bot: Bot
) -> None:
    fake_mastodon, _ = fake
    # Given the instance allows the bot's account 12 calls per 2 s (Mastodon: 300 per 5 min)
    fake_mastodon.set_rate_limit("api", 12, 2.0)
    for command in ("poll", "worker", "worker"):
        bot.start(command)
    queue = bot.queue()
    posts = [fake_mastodon.mention(f"u{n}", "@aircraftml ?", [jpeg()]) for n in range(20)]
    # Then all are answered once, after waiting for the windows, with no dead letter
    wait_for(lambda: len(fake_mastodon.replies) >= 20 or queue.stats().dead, 150, "20 replies")
    wait_for(lambda: settled(queue), 30, "an empty queue")
    assert queue.stats().dead == 0
    assert _one_reply_each(fake_mastodon, posts)
    assert any(status == 429 for _, _, status in fake_mastodon.faults.log)


def test_a_poisoned_mention_is_dead_lettered_with_its_reason(
    fake: tuple[FakeMastodon, str], bot: Bot
) -> None:
    fake_mastodon, _ = fake
    # Given a mention that the poller queued, then deleted by its author
    bot.start("poll")
    queue = bot.queue()
    post = fake_mastodon.mention("mo", "@aircraftml ?", [jpeg()])
    wait_for(lambda: queue.stats().ready == 1, 30, "the mention to be queued")
    fake_mastodon.delete_status(post)
    # When a worker answers it
    bot.start("worker")
    wait_for(lambda: queue.stats().dead == 1, 90, "a dead letter")
    # Then it is dead-lettered at once, saying why, and nothing was posted
    [dead] = queue.dead_letters()
    assert "Record not found" in dead.reason and post in dead.reason
    assert fake_mastodon.replies == []
