"""The webhook answers X's challenge, refuses what is unsigned, malformed or too big with
nothing queued, and answers 200 only once every mention in a delivery is queued."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import pytest
from starlette.testclient import TestClient

from aircraftml._throttled_log import ThrottledLog
from aircraftml.domain import Request
from aircraftml.platforms.x_webhook import sign_body
from aircraftml.queue.memory import MemoryQueue
from aircraftml.webhook import WebhookEndpoint, create_app

SECRET = "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw"
BOT_ID = "1000"


def mention_event(post_id: str = "2001", text: str = "@planebot what is this?") -> dict[str, Any]:
    return {
        "for_user_id": BOT_ID,
        "user_has_blocked": "false",
        "tweet_create_events": [
            {
                "id_str": post_id,
                "text": text,
                "user": {"id_str": "42", "screen_name": "alice"},
                "entities": {
                    "user_mentions": [
                        {"id_str": BOT_ID, "screen_name": "planebot", "indices": [0, 9]}
                    ]
                },
                "extended_entities": {
                    "media": [
                        {"type": "photo", "media_url_https": "https://pbs.twimg.com/media/A.jpg"}
                    ]
                },
            }
        ],
    }


class Harness:
    def __init__(self, max_body_bytes: int = 10_000) -> None:
        self.queue = MemoryQueue()
        self.fail_enqueue = False
        self.endpoint = WebhookEndpoint(
            consumer_secret=SECRET,
            bot_user_id=BOT_ID,
            bot_handle="planebot",
            enqueue=self._enqueue,
            max_body_bytes=max_body_bytes,
        )
        self.client = TestClient(create_app(self.endpoint))

    def _enqueue(self, bodies: Sequence[str]) -> None:
        if self.fail_enqueue:
            raise OSError("disk full")
        self.queue.send(bodies)

    def post(self, body: bytes, *, signature: str | None = None, **headers: str) -> Any:
        sent = {"content-type": "application/json", **headers}
        sent["x-twitter-webhooks-signature"] = signature or sign_body(body, SECRET)
        return self.client.post("/webhook", content=body, headers=sent)

    def queued(self) -> list[Request]:
        messages = self.queue.receive(max_messages=100)
        return [Request.from_json(m.body) for m in messages]


@pytest.fixture
def hook() -> Harness:
    return Harness()


def test_crc_challenge_is_answered_with_the_documented_token(hook: Harness) -> None:
    # Given X's documented test vector / When X sends the challenge
    answer = hook.client.get("/webhook", params={"crc_token": "challenge_string"})
    # Then the answer is the documented response token, as JSON
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {
        "response_token": "sha256=nlBfoc+sYi739ivT57rTKKl7OQM8PcJSNybJqfjoBUk="
    }


@pytest.mark.parametrize("params", [{}, {"crc_token": "short"}, {"crc_token": "a" * 16 + "{}"}])
def test_missing_or_odd_crc_tokens_are_refused(hook: Harness, params: dict[str, str]) -> None:
    # The CRC endpoint would otherwise sign anything: a forging oracle
    assert hook.client.get("/webhook", params=params).status_code == 400


def test_signed_mention_is_queued_before_200(hook: Harness) -> None:
    # Given a signed delivery with one mention carrying a photo
    body = json.dumps(mention_event()).encode()
    # When it is posted
    answer = hook.post(body)
    # Then it is acknowledged and exactly one request is on the queue
    assert answer.status_code == 200
    assert answer.json() == {"queued": 1}
    [request] = hook.queued()
    assert (request.post_id, request.author_handle) == ("2001", "alice")
    assert request.photo_urls == ("https://pbs.twimg.com/media/A.jpg?format=jpg&name=large",)


@pytest.mark.parametrize("signature", ["", "sha256=", "sha256=AAAA", "md5=xyz"])
def test_unsigned_or_wrongly_signed_delivery_is_refused_and_nothing_queued(
    hook: Harness, signature: str
) -> None:
    body = json.dumps(mention_event()).encode()
    headers = {"content-type": "application/json"}
    if signature:
        headers["x-twitter-webhooks-signature"] = signature
    answer = hook.client.post("/webhook", content=body, headers=headers)
    assert answer.status_code == 401
    assert hook.queued() == []


def test_signature_over_other_bytes_is_refused(hook: Harness) -> None:
    # Given a valid signature for a different body (a replayed header on a tampered body)
    body = json.dumps(mention_event()).encode()
    forged = sign_body(body.replace(b"alice", b"mallory"), SECRET)
    assert hook.post(body, signature=forged).status_code == 401
    assert hook.queued() == []


def test_signature_header_name_is_case_insensitive(hook: Harness) -> None:
    body = json.dumps(mention_event()).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Twitter-Webhooks-Signature": sign_body(body, SECRET),
    }
    assert hook.client.post("/webhook", content=body, headers=headers).status_code == 200


def test_oversized_body_is_refused_with_413_before_it_is_read() -> None:
    hook = Harness(max_body_bytes=2_000)
    body = json.dumps(mention_event(text="@planebot " + "x" * 5_000)).encode()
    assert hook.post(body).status_code == 413
    assert hook.queued() == []


def test_oversized_chunked_body_without_length_is_refused(hook: Harness) -> None:
    # Given a body streamed in chunks with no Content-Length, past the limit
    def chunks() -> Any:
        for _ in range(20):
            yield b"x" * 1_000

    answer = hook.client.post(
        "/webhook",
        content=chunks(),
        headers={"content-type": "application/json", "x-twitter-webhooks-signature": "sha256=x"},
    )
    assert answer.status_code == 413


def test_signed_but_malformed_json_is_a_400(hook: Harness) -> None:
    assert hook.post(b'{"tweet_create_events": [').status_code == 400
    assert hook.post(b"[1, 2, 3]").status_code == 400
    assert hook.queued() == []


def test_signed_json_nested_too_deeply_is_a_400_not_a_crash() -> None:
    # Given a signed body of 100,000 nested arrays (deeper than Python's recursion limit)
    hook = Harness(max_body_bytes=1_000_000)
    body = b"[" * 100_000 + b"]" * 100_000
    # Then it is refused as a bad request, nothing queued
    answer = hook.post(body)
    assert answer.status_code == 400 and "nested too deeply" in answer.json()["error"]
    assert hook.queued() == []


def test_refusals_are_logged_with_status_and_reason(
    hook: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    body = json.dumps(mention_event()).encode()
    with caplog.at_level(logging.WARNING, logger="aircraftml.webhook"):
        hook.post(body, **{"content-type": "text/plain"})
        hook.post(b"not json")
        hook.post(body, signature="sha256=forged")
    for status in ("415", "400", "401"):
        assert f"refused with {status}" in caplog.text


def test_a_flood_of_refusals_is_logged_once_with_a_count() -> None:
    # Given a log that allows one line per kind every 10 s, on a clock the test moves
    now = [0.0]
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    logger = logging.getLogger("test.throttled")
    logger.addHandler(Collect())
    log = ThrottledLog(logger, interval_s=10, clock=lambda: now[0])
    # When 1,000 refusals of one kind arrive within a second, and one more 10 s later
    for _ in range(1000):
        log.warning("400", "refused %s", "x")
    now[0] = 10.0
    log.warning("400", "refused %s", "y")
    # Then two lines were written, the second counting those left out
    assert records == ["refused x", "refused y (and 999 more like it in the last 10 s)"]


def test_non_json_content_type_is_a_415(hook: Harness) -> None:
    body = json.dumps(mention_event()).encode()
    assert hook.post(body, **{"content-type": "text/plain"}).status_code == 415


def test_likes_follows_and_unknown_events_are_acknowledged_and_ignored(hook: Harness) -> None:
    body = json.dumps(
        {
            "for_user_id": BOT_ID,
            "favorite_events": [{"id": "1"}],
            "follow_events": [{"type": "follow"}],
            "some_future_events": [{"x": 1}],
        }
    ).encode()
    answer = hook.post(body)
    assert answer.status_code == 200 and answer.json() == {"queued": 0}
    assert hook.queued() == []


def test_queue_failure_is_a_503_so_x_delivers_again(hook: Harness) -> None:
    hook.fail_enqueue = True
    assert hook.post(json.dumps(mention_event()).encode()).status_code == 503
