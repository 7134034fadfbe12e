"""/metrics in process: webhook deliveries by status, events queued, the queue's depth, each
network's requests by status."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys

import httpx
from prometheus_client import REGISTRY
from starlette.testclient import TestClient

from aircraftml.errors import AircraftMLError
from aircraftml.platforms.mastodon.client import MastodonClient
from aircraftml.platforms.x_webhook import sign_body
from aircraftml.queue.memory import MemoryQueue
from aircraftml.web.metrics_endpoint import metrics_route
from aircraftml.webhook import WebhookEndpoint, create_app
from metrics_support import sample

SECRET = "consumer-secret"


def _mention(post_id: str) -> dict[str, object]:
    return {
        "for_user_id": "42",
        "tweet_create_events": [
            {
                "id_str": post_id,
                "text": "@aircraftml what is this?",
                "user": {"id_str": "7", "screen_name": "alice"},
                "entities": {"user_mentions": [{"id_str": "42", "screen_name": "aircraftml"}]},
                "extended_entities": {
                    "media": [{"type": "photo", "media_url_https": "https://pbs.twimg.com/a.jpg"}]
                },
            }
        ],
    }


def test_scrape_counts_what_the_webhook_did_and_reads_the_queue() -> None:
    # Given the webhook and /metrics over one queue
    queue = MemoryQueue()
    endpoint = WebhookEndpoint(
        consumer_secret=SECRET, bot_user_id="42", bot_handle="aircraftml", enqueue=queue.send
    )
    client = TestClient(create_app(endpoint, extra_routes=[metrics_route(queue)]))
    before = client.get("/metrics").text
    # When two signed mentions arrive and one delivery has a bad signature
    for post_id in ("1001", "1002"):
        body = json.dumps(_mention(post_id)).encode()
        headers = {"x-twitter-webhooks-signature": sign_body(body, SECRET)}
        headers["content-type"] = "application/json"
        assert client.post("/webhook", content=body, headers=headers).json() == {"queued": 1}
    assert client.post("/webhook", content=b"{}", headers={"content-type": "application/json"})
    after = client.get("/metrics")
    # Then the scrape counts them by status and shows two messages ready
    assert after.headers["content-type"].startswith("text/plain")

    def delta(name: str, **labels: str) -> float:
        return sample(after.text, name, **labels) - sample(before, name, **labels)

    assert delta("aircraftml_webhook_deliveries_total", status="200") == 2
    assert delta("aircraftml_webhook_deliveries_total", status="401") == 1
    assert delta("aircraftml_events_queued_total") == 2
    assert sample(after.text, "aircraftml_queue_messages", state="ready") == 2
    assert sample(after.text, "aircraftml_queue_messages", state="dead") == 0


def test_the_command_line_makes_no_metric_before_serve_chooses_their_folder() -> None:
    # prometheus_client picks per-process or multiprocess values when it is first imported:
    # `aircraftml serve` sets the folder (metrics_dir) after the commands are loaded, so
    # loading them must not import it, or the workers' counts vanish from /metrics
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, aircraftml.cli; print('prometheus_client' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "False"


def test_each_network_counts_its_requests_by_status() -> None:
    # Given a Mastodon instance that answers a photo, then 503, then drops the connection
    photo = httpx.Response(200, content=b"\xff\xd8\xff", headers={"content-type": "image/jpeg"})
    answers = iter([photo, httpx.Response(503)])

    def instance(request: httpx.Request) -> httpx.Response:
        try:
            return next(answers)
        except StopIteration:
            raise httpx.ConnectError("dropped", request=request) from None

    before = {s: _calls("mastodon", s) for s in ("200", "503", "error")}
    client = MastodonClient(
        "https://bots.example", "token", transport=httpx.MockTransport(instance)
    )
    # When the bot downloads three photos from it
    for _ in range(3):
        with contextlib.suppress(AircraftMLError):
            client.download_photo("https://bots.example/media/a.jpg")
    # Then each is counted under mastodon with its status, "error" where no answer came
    assert {s: _calls("mastodon", s) - before[s] for s in before} == {
        "200": 1,
        "503": 1,
        "error": 1,
    }


def _calls(network: str, status: str) -> float:
    value = REGISTRY.get_sample_value(
        "aircraftml_platform_api_calls_total", {"platform": network, "status": status}
    )
    return value or 0.0
