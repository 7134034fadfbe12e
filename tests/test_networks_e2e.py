"""The bot on Mastodon and on Bluesky, end to end with real processes: ``aircraftml poll``
and ``aircraftml worker`` on SQLite files, each network's fake over HTTP in this process
with its rate limits and faults, workers killed with SIGKILL. The same promises as on X:
every mention one reply, none twice, limits waited for, a poisoned mention dead-lettered
with why.

The full 1,000 mentions run in ``benchmarks/bench_networks.py``; here 60 keep CI fast.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from e2e_support import Bot, airliner_photo, jpeg, settled, wait_for
from network_support import NETWORKS, FakeNetwork, fake_network

pytestmark = pytest.mark.slow

MENTIONS = 60


@pytest.fixture(params=NETWORKS)
def net(request: pytest.FixtureRequest) -> Iterator[FakeNetwork]:
    with fake_network(request.param) as network:
        yield network


@pytest.fixture
def bot(net: FakeNetwork, tmp_path: Path) -> Iterator[Bot]:
    env = {"AIRCRAFTML_POLL_INTERVAL_S": "0.5"}
    bot = Bot(net.fake, net.base_url, tmp_path, env=env)
    yield bot
    bot.stop()


def test_every_mention_gets_one_reply_with_two_pollers_and_two_workers(
    net: FakeNetwork, bot: Bot
) -> None:
    # Given two pollers (as on two machines) and two workers sharing the queue and state
    for command in ("poll", "poll", "worker", "worker"):
        bot.start(command)
    queue = bot.queue()
    # When many people mention the bot: most with a photo, some in a reply to a photo
    photo = jpeg(size=(160, 120))
    posts = []
    for n in range(MENTIONS):
        if n % 10 == 9:
            parent = net.post(f"spotter{n}", "look!", [photo])
            posts.append(net.mention(f"u{n}", "?", parent=parent))
        else:
            posts.append(net.mention(f"u{n}", "what is it?", [photo]))
    # Then every mention has exactly one reply, and nothing is dead-lettered
    wait_for(lambda: len(net.replied_to()) >= MENTIONS, 180, f"{MENTIONS} replies")
    wait_for(lambda: settled(queue), 30, "an empty queue")
    time.sleep(1.5)  # a poll or two more: time for a duplicate to show up
    assert sorted(net.replied_to()) == sorted(posts)
    assert queue.stats().dead == 0
    assert net.bot_marked()  # the poller marked the account as a bot at start


def test_a_photo_of_an_airliner_gets_an_annotated_reply(net: FakeNetwork, bot: Bot) -> None:
    bot.start("poll")
    bot.start("worker")
    post = net.mention("kim", "which one?", [airliner_photo()])
    wait_for(lambda: net.replies_to(post), 90, "the reply")
    [reply] = net.replies_to(post)
    assert reply.text.startswith(f"@{net.handle('kim')} ")
    if net.name == "mastodon":
        assert reply.visibility == "unlisted" and reply.idempotency_key
        assert len(reply.media) == 1 and reply.media[0].description
    else:
        assert len(reply.images) == 1 and reply.images[0][1]  # with its alt text
        assert reply.facets[0]["features"][0]["$type"] == "app.bsky.richtext.facet#mention"


def test_serve_without_x_polls_answers_and_serves_health_and_metrics_but_no_webhook(
    net: FakeNetwork, bot: Bot
) -> None:
    # Given the whole bot for this network alone (no X settings at all)
    metrics_dir = str(bot.log_dir.parent / "metrics")
    bot.start("serve", AIRCRAFTML_WEB_PAGE="false", AIRCRAFTML_METRICS_DIR=metrics_dir)
    site = f"http://127.0.0.1:{bot.port}"
    # When someone mentions it with a photo
    post = net.mention("noor", "what is it?", [jpeg()])
    # Then it is answered, and the process serves health and metrics, and no X webhook
    wait_for(lambda: net.replies_to(post), 90, "the reply")
    assert httpx.get(f"{site}/healthz").status_code == 200
    wait_for(lambda: httpx.get(f"{site}/readyz").status_code == 200, 30, "ready")
    assert httpx.get(f"{site}/webhook", params={"crc_token": "t"}).status_code == 404
    metrics = httpx.get(f"{site}/metrics").text
    assert f'aircraftml_platform_api_calls_total{{platform="{net.name}"' in metrics


def test_a_worker_killed_between_posting_and_recording_leaves_one_reply(
    net: FakeNetwork, bot: Bot
) -> None:
    # Given one worker, killed (SIGKILL) the moment the network records its reply, before
    # the answer reaches it and before it marks the mention done
    bot.start("poll")
    worker = bot.start("worker")
    killed: list[Any] = []

    def kill_worker(reply: Any) -> None:
        if not killed:
            killed.append(reply)
            os.kill(worker.pid, signal.SIGKILL)

    net.on_reply(kill_worker)
    post = net.mention("lee", "?", [jpeg()])
    wait_for(lambda: killed, 90, "the first reply")
    worker.wait()
    # When another worker takes the mention over once its visibility timeout runs out
    bot.start("worker")
    queue = bot.queue()
    wait_for(lambda: settled(queue), 90, "the mention to be settled")
    # Then the mention has the one reply, and nothing is dead-lettered
    assert [net.reply_id(r) for r in net.replies_to(post)] == [net.reply_id(killed[0])]
    assert queue.stats().dead == 0


def test_a_rate_limited_backlog_is_answered_in_full_and_nothing_is_dead_lettered(
    net: FakeNetwork, bot: Bot
) -> None:
    # Given the network allows the bot's account 8 calls per 2 s (Mastodon: 300 per 5 min,
    # Bluesky: 3,000 per 5 min; the shape is what matters)
    net.limit_calls(8, 2.0)
    for command in ("poll", "worker", "worker"):
        bot.start(command)
    queue = bot.queue()
    posts = [net.mention(f"u{n}", "?", [jpeg()]) for n in range(12)]
    # Then all are answered once, after waiting for the windows, with no dead letter
    wait_for(lambda: len(net.replied_to()) >= 12 or queue.stats().dead, 150, "12 replies")
    wait_for(lambda: settled(queue), 30, "an empty queue")
    assert queue.stats().dead == 0
    assert sorted(net.replied_to()) == sorted(posts)
    assert 429 in net.statuses_seen()


def test_a_poisoned_mention_is_dead_lettered_with_its_reason(net: FakeNetwork, bot: Bot) -> None:
    # Given a mention that the poller queued, then deleted by its author
    bot.start("poll")
    queue = bot.queue()
    post = net.mention("mo", "?", [jpeg()])
    wait_for(lambda: queue.stats().ready == 1, 30, "the mention to be queued")
    net.delete(post)
    # When a worker answers it
    bot.start("worker")
    wait_for(lambda: queue.stats().dead == 1, 90, "a dead letter")
    # Then it is dead-lettered at once, saying why, and nothing was posted
    [dead] = queue.dead_letters()
    assert "not found" in dead.reason.lower() and post in dead.reason
    assert net.replied_to() == []
