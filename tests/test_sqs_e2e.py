"""The bot end to end in scale-out mode: ``aircraftml webhook`` and ``aircraftml worker``
processes sharing an SQS queue and a DynamoDB table (moto's server over HTTP), with the fake
X delivering signed events and receiving replies through the real X client. Nothing lost,
nothing answered twice, whatever is killed or delivered twice.

Moto is one Python server in this test process, so the load test sends
``AIRCRAFTML_SQS_E2E_MENTIONS`` mentions (200 by default) rather than the 1,000 of the
SQLite test; the figure for 1,000 is in docs/aws.md.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("boto3", reason="the AWS backends need boto3 (the aws extra)")
pytest.importorskip("moto.server", reason="needs moto[server] (the dev extra)")

from aircraftml.domain import Request
from aircraftml.platforms.fake_x import FakeX, FakeXServer
from aircraftml.platforms.x_events import requests_from_delivery
from aircraftml.queue.sqs import SqsQueue
from aircraftml.state.dynamodb import DynamoDbStateStore
from e2e_support import (
    VISIBILITY_TIMEOUT_S,
    Bot,
    airliner_photo,
    fast_fake_x,
    jpeg,
    replies_to,
    wait_for,
)

pytestmark = pytest.mark.slow

ACCOUNT = "123456789012"
MENTIONS = int(os.environ.get("AIRCRAFTML_SQS_E2E_MENTIONS", "200"))
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture
def fake() -> Iterator[tuple[FakeX, str]]:
    fake = fast_fake_x()
    with FakeXServer(fake) as server:
        yield fake, server.base_url


@pytest.fixture
def queue(make_aws_client: Callable[[str], Any]) -> Iterator[SqsQueue]:
    queue = SqsQueue.create(
        f"requests-{uuid.uuid4().hex[:10]}",
        max_receives=3,
        visibility_timeout_s=VISIBILITY_TIMEOUT_S,
        client=make_aws_client("sqs"),
        owns_client=True,
        drain_wait_s=0,
    )
    yield queue
    queue.close()


@pytest.fixture
def bot(
    fake: tuple[FakeX, str],
    queue: SqsQueue,
    moto_endpoint: str,
    make_aws_client: Callable[[str], Any],
    tmp_path: Path,
) -> Iterator[Bot]:
    fake_x, base_url = fake
    table = DynamoDbStateStore(f"state-{uuid.uuid4().hex[:10]}", client=make_aws_client("dynamodb"))
    table.create_table()
    name = queue.queue_url.rsplit("/", 1)[-1]
    bot = Bot(
        fake_x,
        base_url,
        tmp_path,
        queue_url=f"sqs://us-east-1/{ACCOUNT}/{name}?dlq={name}-dlq&endpoint_url={moto_endpoint}",
        state_url=f"dynamodb://{table.table_name}?endpoint_url={moto_endpoint}",
        open_queue=lambda: queue,
        env=AWS_ENV,
    )
    yield bot
    bot.stop()


def settled(queue: SqsQueue) -> bool:
    stats = queue.stats()
    return stats.ready + stats.in_flight + stats.delayed == 0


def test_mentions_through_webhook_and_workers_each_get_one_reply(
    fake: tuple[FakeX, str], bot: Bot, queue: SqsQueue
) -> None:
    fake_x, _ = fake
    bot.start("webhook")
    bot.start("worker")
    bot.start("worker")
    fake_x.register_webhook(bot.webhook_url)
    # When many users mention the bot with a photo
    started_s = time.monotonic()
    photo = jpeg(size=(160, 120))
    posts = [fake_x.mention(f"user{n}", "plane?", photos=[photo]).post_id for n in range(MENTIONS)]
    assert len(set(posts)) == MENTIONS
    # Then each one gets exactly one reply
    wait_for(lambda: len(fake_x.replies) >= MENTIONS, 60 + MENTIONS * 1.0, "the replies")
    print(f"\n{MENTIONS} mentions answered in {time.monotonic() - started_s:.1f} s")
    wait_for(lambda: settled(queue), 30, "an empty queue")
    time.sleep(1)
    assert sorted(r.in_reply_to_id for r in fake_x.replies) == sorted(str(p) for p in posts)


def test_each_event_delivered_three_times_gets_one_reply(
    fake: tuple[FakeX, str], bot: Bot, queue: SqsQueue
) -> None:
    fake_x, _ = fake
    bot.start("webhook")
    bot.start("worker")
    bot.start("worker")
    fake_x.register_webhook(bot.webhook_url)
    posts = [fake_x.create_post(f"user{n}", "@aircraftml look", [jpeg()]) for n in range(3)]
    for post_id in posts:
        for _ in range(3):
            assert fake_x.deliver(fake_x.event_for(post_id), post_id).delivered
    wait_for(lambda: all(replies_to(fake_x, p) for p in posts), 60, "three replies")
    wait_for(lambda: settled(queue), 30, "an empty queue")
    assert sorted(r.in_reply_to_id for r in fake_x.replies) == sorted(posts)


def test_worker_killed_mid_request_then_restarted_replies_exactly_once(
    fake: tuple[FakeX, str], bot: Bot, queue: SqsQueue
) -> None:
    fake_x, _ = fake
    bot.start("webhook")
    worker = bot.start("worker")
    fake_x.register_webhook(bot.webhook_url)
    # Given X is slow to accept replies, so the worker is caught in the middle of one
    fake_x.inject_fault("/2/tweets", "slow", count=1, delay_s=2.0, method="POST")
    delivery = fake_x.mention("alice", "what is this?", photos=[airliner_photo()])
    wait_for(
        lambda: any(path.startswith("/2/media/metadata") for _, path, _ in fake_x.request_log),
        60,
        "the worker to reach the posting step",
    )
    # When the worker is killed with SIGKILL and a new one started
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    killed_at_s = time.monotonic()
    bot.start("worker")
    # Then once the visibility timeout has passed the request is answered, exactly once
    post_id = str(delivery.post_id)
    wait_for(lambda: settled(queue), 60, "the request to be acked")
    assert time.monotonic() - killed_at_s >= VISIBILITY_TIMEOUT_S - 2.5
    time.sleep(1)
    assert len(replies_to(fake_x, post_id)) == 1


def test_a_poisoned_message_is_dead_lettered_with_its_reason(
    fake: tuple[FakeX, str], bot: Bot, queue: SqsQueue
) -> None:
    fake_x, _ = fake
    bot.start("webhook")
    fake_x.register_webhook(bot.webhook_url)
    # Given a malformed message and a request for a post X does not have, among good ones
    missing = Request("x", "1", "42", "mallory", "@aircraftml ?")
    queue.send(["{this is not json", missing.to_json()])
    good = [fake_x.mention(f"fan{n}", "this?", photos=[jpeg()]).post_id for n in range(2)]
    # When a worker runs
    bot.start("worker")
    wait_for(lambda: all(replies_to(fake_x, str(p)) for p in good), 60, "the good replies")
    wait_for(lambda: queue.stats().dead == 2, 30, "two dead letters")
    # Then the operator sees both with their reasons in the dead-letter queue
    listing = subprocess.run(
        [sys.executable, "-m", "aircraftml", "queue", "dead-letters", "--json"],
        env=bot.env,
        capture_output=True,
        text=True,
        check=True,
    )
    reasons = sorted(json.loads(line)["reason"] for line in listing.stdout.splitlines())
    assert reasons[0].startswith("PermanentError: fetch post 1")
    assert reasons[1].startswith("malformed request")


def test_two_workers_racing_for_one_mention_reply_once(
    fake: tuple[FakeX, str], bot: Bot, queue: SqsQueue
) -> None:
    fake_x, _ = fake
    # Given two idle workers, and X slow to accept the reply (a wide window for the race)
    bot.start("worker")
    bot.start("worker")
    fake_x.inject_fault("/2/tweets", "slow", count=1, delay_s=1.0, method="POST")
    post_id = fake_x.create_post("zoe", "@aircraftml which one?", [jpeg()])
    config = fake_x.config
    [request] = requests_from_delivery(
        fake_x.event_for(post_id), config.bot_user_id, config.bot_handle, time.time()
    )
    # When the same request lands on the queue twice at once
    queue.send([request.to_json(), request.to_json()])
    # Then one worker answers it and the other finds it claimed, then done
    wait_for(lambda: replies_to(fake_x, post_id), 60, "the reply")
    wait_for(lambda: settled(queue), 60, "both copies to be acked")
    assert len(replies_to(fake_x, post_id)) == 1
    assert queue.stats().dead == 0
