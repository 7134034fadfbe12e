"""``aircraftml serve`` end to end with its page and /metrics: fake X delivers mentions, one
worker process answers them, someone tries a photo on the page; a scrape of /metrics, summed
over the webhook's and the worker's processes, counts exactly what happened."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from aircraftml.platforms.fake_x import FakeX, FakeXServer
from e2e_support import Bot, airliner_photo, fast_fake_x, replies_to, settled, wait_for
from metrics_support import sample

pytestmark = pytest.mark.slow


@pytest.fixture
def fake() -> Iterator[tuple[FakeX, str]]:
    fake = fast_fake_x()
    with FakeXServer(fake) as server:
        yield fake, server.base_url


def test_serve_counts_mentions_replies_and_page_photos(
    fake: tuple[FakeX, str], tmp_path: Path
) -> None:
    fake_x, base_url = fake
    bot = Bot(fake_x, base_url, tmp_path)
    try:
        bot.start(
            "serve", AIRCRAFTML_METRICS_DIR=str(tmp_path / "metrics"), AIRCRAFTML_LOG_FORMAT="json"
        )
        site = f"http://127.0.0.1:{bot.port}"
        fake_x.register_webhook(bot.webhook_url)
        # When alice mentions the bot with a photo and bob without one (the help reply)
        with_photo = fake_x.mention("alice", "what is this?", photos=[airliner_photo()])
        without = fake_x.mention("bob", "hello")
        wait_for(lambda: replies_to(fake_x, str(with_photo.post_id)), 60, "alice's reply")
        wait_for(lambda: replies_to(fake_x, str(without.post_id)), 60, "bob's help reply")
        wait_for(lambda: settled(bot.queue()), 30, "an empty queue")
        # And someone tries the photo on the page that serve mounts beside the webhook
        assert "Which aircraft is this?" in httpx.get(site + "/").text
        tried = httpx.post(
            site + "/api/recognize",
            files={"photo": ("a.png", airliner_photo(), "image/png")},
            timeout=30,
        )
        assert tried.status_code == 200
        assert len(tried.json()["aircraft"]) == 1
        # Then /metrics counts what happened, the worker's counts included
        text = httpx.get(site + "/metrics").text
    finally:
        bot.stop()
    assert sample(text, "aircraftml_webhook_deliveries_total", status="200") == 2
    assert sample(text, "aircraftml_events_queued_total") == 2
    assert sample(text, "aircraftml_mentions_total", outcome="replied") == 1
    assert sample(text, "aircraftml_mentions_total", outcome="help sent") == 1
    assert sample(text, "aircraftml_reply_latency_seconds_count") == 1
    assert 0 < sample(text, "aircraftml_reply_latency_seconds_sum") < 60
    bot_photos = {"stage": "total", "source": "bot"}
    assert sample(text, "aircraftml_recognition_stage_seconds_count", **bot_photos) == 1
    page_photos = {"stage": "total", "source": "page"}
    assert sample(text, "aircraftml_recognition_stage_seconds_count", **page_photos) == 1
    assert sample(text, "aircraftml_page_photos_total", status="200") == 1
    # two replies posted, a media upload and its alt text: X answered each with a 2xx
    posted = sum(
        sample(text, "aircraftml_platform_api_calls_total", platform="x", status=status)
        for status in ("200", "201")
    )
    assert posted >= 4
    assert sample(text, "aircraftml_platform_api_calls_total", status="error") == 0
    assert sample(text, "aircraftml_queue_messages", state="ready") == 0
    assert sample(text, "aircraftml_queue_messages", state="dead") == 0
    # And with AIRCRAFTML_LOG_FORMAT=json each log line is a JSON object, the worker's lines
    # about alice's mention with its post id as a field
    lines = [
        json.loads(line) for line in (tmp_path / "logs" / "serve-0.log").read_text().splitlines()
    ]
    about_alice = [line for line in lines if line.get("post_id") == str(with_photo.post_id)]
    assert any(line["process"] == "worker-0" for line in about_alice), lines
