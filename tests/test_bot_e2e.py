"""The bot end to end on one machine: fake X delivers signed events over HTTP to a webhook
process; worker processes fetch photos from fake X, run the real models and post replies
with the real X client. Nothing lost, nothing answered twice, whatever is killed or
delivered twice.

Each scenario runs on two backends (the ``backend`` fixture): ``sqlite``, the queue and
state as SQLite files, and ``sqs``, the scale-out mode, with ``aircraftml webhook`` and
``aircraftml worker`` processes sharing an SQS queue and a DynamoDB table (moto's server
over HTTP, started by tests/conftest.py; skipped without boto3 and moto). A few scenarios
are about the single-machine mode and run on SQLite only.

Moto is one Python server in this test process, so on ``sqs`` the load test sends
``AIRCRAFTML_SQS_E2E_MENTIONS`` mentions (200 by default) rather than the 1,000 of
``sqlite``; the figure for 1,000 is in docs/aws.md.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from aircraftml.domain import Request
from aircraftml.platforms.fake_x import FakeX, FakeXServer
from aircraftml.platforms.x_events import requests_from_delivery
from aircraftml.platforms.x_webhook import sign_body
from e2e_support import (
    VISIBILITY_TIMEOUT_S,
    Bot,
    airliner_photo,
    fast_fake_x,
    jpeg,
    replies_to,
    settled,
    sqs_bot,
    wait_for,
)

pytestmark = pytest.mark.slow

MENTIONS = {"sqlite": 1000, "sqs": int(os.environ.get("AIRCRAFTML_SQS_E2E_MENTIONS", "200"))}
MENTIONS_TIMEOUT_S = {"sqlite": 300.0, "sqs": 60 + MENTIONS["sqs"] * 1.0}

sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture(params=["sqlite", "sqs"])
def backend(request: pytest.FixtureRequest) -> str:
    """Which queue and state the bot's processes share: SQLite files, or SQS + DynamoDB."""
    if request.param == "sqs":
        pytest.importorskip("boto3", reason="the AWS backends need boto3 (the aws extra)")
        pytest.importorskip("moto.server", reason="needs moto[server] (the dev extra)")
    return str(request.param)


@pytest.fixture
def fake() -> Iterator[tuple[FakeX, str]]:
    fake = fast_fake_x()
    with FakeXServer(fake) as server:
        yield fake, server.base_url


@pytest.fixture
def bot(
    backend: str, fake: tuple[FakeX, str], tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Bot]:
    fake_x, base_url = fake
    if backend == "sqs":
        moto_endpoint = request.getfixturevalue("moto_endpoint")
        make_aws_client = request.getfixturevalue("make_aws_client")
        with sqs_bot(fake_x, base_url, tmp_path, moto_endpoint, make_aws_client) as bot:
            yield bot
        return
    bot = Bot(fake_x, base_url, tmp_path)
    yield bot
    bot.stop()


def test_a_mention_with_a_photo_gets_one_annotated_reply(fake: tuple[FakeX, str], bot: Bot) -> None:
    fake_x, _ = fake
    bot.start("webhook")
    bot.start("worker")
    fake_x.register_webhook(bot.webhook_url)
    # When alice mentions the bot with a photo of an aircraft
    delivery = fake_x.mention("alice", "what is this?", photos=[airliner_photo()])
    assert delivery.delivered
    wait_for(lambda: replies_to(fake_x, str(delivery.post_id)), 60, "the reply")
    # Then one reply names the aircraft and carries the annotated photo with alt text
    [reply] = replies_to(fake_x, str(delivery.post_id))
    assert reply.text.startswith("@alice I see one aircraft: ")
    [media] = reply.media
    assert media.mime_type == "image/jpeg"
    assert Image.open(io.BytesIO(media.data)).size[0] >= 720
    assert media.alt_text and "boxed and numbered" in media.alt_text


def test_each_event_delivered_three_times_gets_one_reply(fake: tuple[FakeX, str], bot: Bot) -> None:
    fake_x, _ = fake
    bot.start("webhook")
    bot.start("worker")
    bot.start("worker")
    fake_x.register_webhook(bot.webhook_url)
    queue = bot.queue()
    # When each of three mentions is delivered three times in each webhook envelope
    posts = [fake_x.create_post(f"user{n}", "@aircraftml look", [jpeg()]) for n in range(3)]
    for envelope in ("account_activity", "x_activity"):
        for post_id in posts:
            for _ in range(3):
                assert fake_x.deliver(fake_x.event_for(post_id, envelope), post_id).delivered
    # Then each mention gets exactly one reply and the queue ends empty
    wait_for(lambda: all(replies_to(fake_x, p) for p in posts), 60, "three replies")
    wait_for(lambda: settled(queue), 30, "an empty queue")
    time.sleep(2)  # time for any duplicate to show up
    assert sorted(r.in_reply_to_id for r in fake_x.replies) == sorted(posts)
    assert queue.stats().ready == 0


def test_worker_killed_mid_request_then_restarted_replies_exactly_once(
    fake: tuple[FakeX, str], bot: Bot
) -> None:
    fake_x, _ = fake
    bot.start("webhook")
    worker = bot.start("worker")
    fake_x.register_webhook(bot.webhook_url)
    queue = bot.queue()
    # Given X is slow to accept replies, so the worker is caught in the middle of one
    fake_x.inject_fault("/2/tweets", "slow", count=1, delay_s=2.0, method="POST")
    delivery = fake_x.mention("alice", "what is this?", photos=[airliner_photo()])
    wait_for(lambda: queue.stats().in_flight == 1, 30, "the worker to take the request")
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
    wait_for(lambda: replies_to(fake_x, post_id), 60, "the reply")
    wait_for(lambda: settled(queue), 60, "the request to be acked")
    assert time.monotonic() - killed_at_s >= VISIBILITY_TIMEOUT_S - 2.5
    time.sleep(1)
    assert len(replies_to(fake_x, post_id)) == 1


def test_a_poisoned_message_is_dead_lettered_with_its_reason_and_others_unaffected(
    fake: tuple[FakeX, str], bot: Bot
) -> None:
    fake_x, _ = fake
    bot.start("webhook")
    fake_x.register_webhook(bot.webhook_url)
    # Given a malformed message and a request for a post X does not have, among good ones
    queue = bot.queue()
    missing = Request("x", "1", "42", "mallory", "@aircraftml ?")
    queue.send(["{this is not json", missing.to_json()])
    good = [fake_x.mention(f"fan{n}", "this?", photos=[jpeg()]).post_id for n in range(3)]
    # When a worker runs
    bot.start("worker")
    wait_for(lambda: all(replies_to(fake_x, str(p)) for p in good), 60, "the good replies")
    wait_for(lambda: queue.stats().dead == 2, 30, "two dead letters")
    # Then the operator sees both with their reasons; the good mentions were answered
    listing = subprocess.run(
        [sys.executable, "-m", "aircraftml", "queue", "dead-letters", "--json"],
        env=bot.env,
        capture_output=True,
        text=True,
        check=True,
    )
    reasons = sorted(json.loads(line)["reason"] for line in listing.stdout.splitlines())
    assert len(reasons) == 2
    assert reasons[0].startswith("PermanentError: fetch post 1")
    assert reasons[1].startswith("malformed request")


def test_two_workers_racing_for_one_mention_reply_once(fake: tuple[FakeX, str], bot: Bot) -> None:
    fake_x, _ = fake
    queue = bot.queue()
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


@pytest.mark.skipif(os.environ.get("AIRCRAFTML_SKIP_LOAD") == "1", reason="load test disabled")
def test_many_mentions_each_get_one_reply(backend: str, fake: tuple[FakeX, str], bot: Bot) -> None:
    fake_x, _ = fake
    mentions = MENTIONS[backend]
    bot.start("webhook")
    bot.start("worker")
    bot.start("worker")
    fake_x.register_webhook(bot.webhook_url)
    queue = bot.queue()
    # When many users mention the bot with a photo (1,000 on sqlite, fewer on moto's SQS)
    started_s = time.monotonic()
    photo = jpeg(size=(160, 120))
    posts = [fake_x.mention(f"user{n}", "plane?", photos=[photo]).post_id for n in range(mentions)]
    assert len(set(posts)) == mentions
    # Then each one gets exactly one reply
    wait_for(lambda: len(fake_x.replies) >= mentions, MENTIONS_TIMEOUT_S[backend], "the replies")
    print(f"\n{mentions} mentions answered in {time.monotonic() - started_s:.1f} s on {backend}")
    wait_for(lambda: settled(queue), 30, "an empty queue")
    time.sleep(2)
    assert sorted(r.in_reply_to_id for r in fake_x.replies) == sorted(str(p) for p in posts)


@sqlite_only
def test_a_hostile_photo_gets_a_kind_reply_and_nothing_is_lost(
    fake: tuple[FakeX, str], bot: Bot
) -> None:
    fake_x, _ = fake
    bot.start("webhook")
    bot.start("worker")
    fake_x.register_webhook(bot.webhook_url)
    # When eve mentions the bot with a truncated JPEG and something that is not an image
    truncated = airliner_photo()[:5_000]
    delivery = fake_x.mention("eve", "and this?", photos=[truncated, b"not an image at all"])
    # Then she gets one reply saying, for each, that it could not be opened
    wait_for(lambda: replies_to(fake_x, str(delivery.post_id)), 60, "the reply")
    [reply] = replies_to(fake_x, str(delivery.post_id))
    assert "Photo 1: I couldn't open your photo" in reply.text
    assert "Photo 2: I couldn't open your photo" in reply.text


@sqlite_only
def test_bad_signatures_and_bad_crc_tokens_are_refused_with_nothing_queued(bot: Bot) -> None:
    bot.start("webhook")
    # When a forged signature, a bad CRC token and an oversized body reach the webhook
    body = json.dumps({"for_user_id": "1000", "tweet_create_events": []}).encode()
    with httpx.Client() as http:
        forged = http.post(
            bot.webhook_url,
            content=body,
            headers={
                "content-type": "application/json",
                "x-twitter-webhooks-signature": sign_body(body, "not-the-secret"),
            },
        )
        bad_crc = http.get(bot.webhook_url, params={"crc_token": "<script>"})
        try:
            huge_status = http.post(
                bot.webhook_url,
                content=b"{" + b" " * 2_000_000 + b"}",
                headers={"content-type": "application/json"},
            ).status_code
        except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError):
            # The webhook answers 413 and closes without reading the rest of the body; a
            # client still sending it may see the reset before the answer (a race).
            huge_status = 413
    # Then each is refused and nothing is queued
    assert (forged.status_code, bad_crc.status_code, huge_status) == (401, 400, 413)
    stats = bot.queue().stats()
    assert stats.ready + stats.in_flight + stats.delayed + stats.dead == 0


def _workers_of(pid: int) -> set[int]:
    """The worker processes under ``aircraftml serve`` (children of any of its threads: the
    supervisor thread starts the replacements), not multiprocessing's resource tracker."""
    children = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        children.update(int(p) for p in (task / "children").read_text().split())
    return {
        p
        for p in children
        if b"multiprocessing" in Path(f"/proc/{p}/cmdline").read_bytes()
        and b"resource_tracker" not in Path(f"/proc/{p}/cmdline").read_bytes()
    }


@sqlite_only
def test_serve_restarts_a_killed_worker_and_stops_them_all(
    fake: tuple[FakeX, str], bot: Bot
) -> None:
    fake_x, _ = fake
    serve = bot.start("serve")
    fake_x.register_webhook(bot.webhook_url)
    if not Path(f"/proc/{serve.pid}/task/{serve.pid}/children").exists():
        pytest.skip("needs /proc/<pid>/task/<pid>/children to find the worker")
    [first] = _workers_of(serve.pid)
    # When the worker under `aircraftml serve` is killed with SIGKILL
    os.kill(first, signal.SIGKILL)
    # Then serve starts another, which answers the next mention
    delivery = fake_x.mention("gina", "still there?", photos=[jpeg()])
    wait_for(lambda: replies_to(fake_x, str(delivery.post_id)), 60, "the reply")
    [second] = _workers_of(serve.pid)
    # And when serve is stopped with SIGTERM, no worker outlives it
    serve.terminate()
    # (a worker gets 30 s to finish its request, then is killed: seen once in four runs, a
    # restarted worker that does not end on SIGTERM, not understood yet; serve now logs
    # where such a worker was held before it kills it)
    assert serve.wait(timeout=45) == 0
    wait_for(lambda: not Path(f"/proc/{second}").exists(), 10, "the worker to exit")
