"""The real XClient against the local fake of X, running for real on loopback ports."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aircraftml.domain import Request
from aircraftml.errors import DuplicateContent, PermanentError, RateLimited, TransientError
from aircraftml.platforms.base import ReplyImage
from aircraftml.platforms.fake_x import (
    DUPLICATE_DETAIL,
    FakeX,
    FakeXConfig,
    FakeXServer,
    LoopbackServer,
    WebhookRegistrationError,
)
from aircraftml.platforms.x import XClient
from aircraftml.platforms.x_auth import BearerToken, OAuth1
from aircraftml.platforms.x_events import requests_from_delivery
from aircraftml.platforms.x_webhook import (
    SIGNATURE_HEADER,
    InvalidCrcToken,
    crc_response,
    verify_signature,
)

CONFIG = FakeXConfig(retry_delays_s=(0.02, 0.05, 0.1), delivery_timeout_s=1.0)
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40  # 10 KiB that sniff as JPEG
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 2000


def oauth(config: FakeXConfig = CONFIG, **override: str) -> OAuth1:
    keys = {
        "consumer_key": config.consumer_key,
        "consumer_secret": config.consumer_secret,
        "access_token": config.access_token,
        "access_token_secret": config.access_token_secret,
    }
    return OAuth1(**(keys | override))


@pytest.fixture(scope="module")
def server() -> Iterator[FakeXServer]:
    with FakeXServer(FakeX(CONFIG)) as running:
        yield running


@pytest.fixture
def fake(server: FakeXServer) -> FakeX:
    server.fake.reset()
    return server.fake


def make_client(server: FakeXServer, auth: httpx.Auth | None = None, **options: Any) -> XClient:
    settings: dict[str, Any] = {"timeout_s": 2.0} | options
    return XClient(
        auth or oauth(),
        base_url=server.base_url,
        media_hosts=("127.0.0.1",),
        allow_insecure_media_for_testing=True,
        **settings,
    )


@pytest.fixture
def x(server: FakeXServer) -> Iterator[XClient]:
    with make_client(server) as client:
        yield client


class Receiver:
    """A bot's webhook: answers the CRC, verifies signatures, parses the events."""

    def __init__(self, secret: str, failures: list[int] | None = None) -> None:
        self.secret = secret
        self.failures = failures or []
        self.requests: list[Request] = []
        self.bad_signatures = 0
        self.app = Starlette(routes=[Route("/webhooks/x", self.endpoint, methods=["GET", "POST"])])

    async def endpoint(self, request: HttpRequest) -> Response:
        if request.method == "GET":
            try:
                return JSONResponse(
                    crc_response(request.query_params.get("crc_token"), self.secret)
                )
            except InvalidCrcToken:
                return Response(status_code=400)
        raw = await request.body()
        if not verify_signature(raw, request.headers.get(SIGNATURE_HEADER), self.secret):
            self.bad_signatures += 1
            return Response(status_code=401)
        if self.failures:
            return Response(status_code=self.failures.pop(0))
        found = requests_from_delivery(json.loads(raw), CONFIG.bot_user_id, CONFIG.bot_handle, 0.0)
        self.requests.extend(found)
        return Response(status_code=200)


@pytest.fixture(scope="module")
def receiver_server() -> Iterator[tuple[Receiver, str]]:
    bot = Receiver(CONFIG.consumer_secret)
    with LoopbackServer(bot.app) as running:
        yield bot, running.base_url + "/webhooks/x"


@pytest.fixture
def receiver(receiver_server: tuple[Receiver, str]) -> tuple[Receiver, str]:
    bot, url = receiver_server
    bot.requests.clear()
    bot.failures.clear()
    bot.bad_signatures = 0
    return bot, url


# --- replying -----------------------------------------------------------------------


def test_a_reply_with_images_and_alt_texts_is_recorded(fake: FakeX, x: XClient) -> None:
    # Given a user's mention with a photo
    mention = fake.create_post("alice", "@aircraftml what is this?", [JPEG])
    images = [
        ReplyImage(JPEG, "image/jpeg", "Boeing 737-800, boxed"),
        ReplyImage(PNG, "image/png", "crop"),
    ]
    # When the bot replies with two images
    reply_id = x.post_reply(mention, "1. Boeing 737-800 (91%)", images)
    # Then the fake holds the reply, its images and their alt texts
    [reply] = fake.replies
    assert (reply.id, reply.in_reply_to_id, reply.text) == (
        reply_id,
        mention,
        "1. Boeing 737-800 (91%)",
    )
    assert [(m.data, m.mime_type, m.alt_text) for m in reply.media] == [
        (JPEG, "image/jpeg", "Boeing 737-800, boxed"),
        (PNG, "image/png", "crop"),
    ]


def test_replies_can_be_read_over_http(fake: FakeX, server: FakeXServer, x: XClient) -> None:
    mention = fake.create_post("alice", "@aircraftml hi")
    x.post_reply(
        mention, "Send me a photo of an aircraft.", [ReplyImage(JPEG, "image/jpeg", "alt")]
    )
    replies = httpx.get(server.base_url + "/_fake/replies").json()["replies"]
    assert replies[0]["text"] == "Send me a photo of an aircraft."
    assert replies[0]["media"][0]["alt_text"] == "alt"
    assert httpx.get(replies[0]["media"][0]["url"]).content == JPEG


def test_the_same_text_twice_is_duplicate_content(fake: FakeX, x: XClient) -> None:
    first = fake.create_post("alice", "@aircraftml one")
    second = fake.create_post("bob", "@aircraftml two")
    x.post_reply(first, "Airbus A320 (88%)", [])
    with pytest.raises(DuplicateContent, match=DUPLICATE_DETAIL):
        x.post_reply(second, "Airbus A320 (88%)", [])


def test_find_reply_finds_the_bots_own_reply_on_its_timeline(
    fake: FakeX, server: FakeXServer
) -> None:
    # Given the bot answered one mention, then posted 150 times more (two pages back)
    answered = fake.create_post("alice", "@aircraftml one")
    unanswered = fake.create_post("bob", "@aircraftml two")
    with make_client(server, bot_user_id=CONFIG.bot_user_id) as x:
        reply_id = x.post_reply(answered, "Airbus A320 (88%)", [])
        for n in range(150):
            fake.create_post(CONFIG.bot_handle, f"news {n}")
        # Then X's record of the bot's posts gives the reply, and nothing for the other
        assert x.find_reply(answered) == reply_id
        assert x.find_reply(unanswered) is None
    pages = [p for m, p, _ in fake.request_log if p == f"/2/users/{CONFIG.bot_user_id}/tweets"]
    assert len(pages) == 4  # two pages for each look-up


def test_a_users_timeline_is_newest_first_in_pages(fake: FakeX, server: FakeXServer) -> None:
    since = fake.create_post("carol", "first")
    later = [fake.create_post("carol", f"post {n}") for n in range(7)]
    user_id = fake.user("carol").id
    with httpx.Client(base_url=server.base_url, auth=oauth()) as http:
        page = http.get(
            f"/2/users/{user_id}/tweets", params={"since_id": since, "max_results": "5"}
        ).json()
        assert [p["id"] for p in page["data"]] == later[::-1][:5]
        token = page["meta"]["next_token"]
        rest = http.get(
            f"/2/users/{user_id}/tweets",
            params={"since_id": since, "max_results": "5", "pagination_token": token},
        ).json()
        assert [p["id"] for p in rest["data"]] == later[::-1][5:]
        assert "next_token" not in rest["meta"]
        too_many = http.get(f"/2/users/{user_id}/tweets", params={"max_results": "500"})
        assert too_many.status_code == 400


def test_replying_where_the_bot_was_not_summoned_is_forbidden(fake: FakeX, x: XClient) -> None:
    unrelated = fake.create_post("alice", "my holiday photos", [JPEG])
    with pytest.raises(PermanentError, match="not been mentioned"):
        x.post_reply(unrelated, "Boeing 777", [])
    assert fake.replies == []


def test_replying_to_a_missing_post_is_permanent(x: XClient) -> None:
    with pytest.raises(PermanentError, match="Could not find tweet"):
        x.post_reply("1234567", "hello", [])


def test_a_large_image_goes_up_in_chunks(fake: FakeX, server: FakeXServer) -> None:
    # Given a client that chunks above 4 KiB and a 10 KiB image
    mention = fake.create_post("alice", "@aircraftml big one")
    with make_client(server, chunked_upload_above_bytes=4096, chunk_bytes=4096) as x:
        # When replying with it
        x.post_reply(mention, "A380", [ReplyImage(JPEG, "image/jpeg", "big")])
    # Then initialize, three appends and finalize went to the fake, and the bytes arrived whole
    paths = [path.split("/")[-1] for _, path, _ in fake.request_log if "/media/upload" in path]
    assert paths == ["initialize", "append", "append", "append", "finalize"]
    assert fake.replies[0].media[0].data == JPEG


# --- reading ------------------------------------------------------------------------


def test_fetch_post_and_download_its_photo(fake: FakeX, x: XClient) -> None:
    # Given a photo post and a mention that replies to it
    parent = fake.create_post("carol", "spotted today", [JPEG, PNG])
    mention = fake.create_post("alice", "@aircraftml what is this?", in_reply_to=parent)
    # When the handler looks the mention, then the parent, up
    post = x.fetch_post(mention)
    photos = x.fetch_post(post.in_reply_to_id or "").photo_urls
    # Then it finds the parent's photos and can download them
    assert post.photo_urls == () and post.author_handle == "alice"
    assert [x.download_photo(url) for url in photos] == [JPEG, PNG]


def test_fetch_post_of_a_missing_post_is_permanent(x: XClient) -> None:
    with pytest.raises(PermanentError, match="Could not find tweet"):
        x.fetch_post("42")


# --- auth ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "override",
    [
        {"consumer_secret": "wrong"},
        {"access_token_secret": "wrong"},
        {"consumer_key": "another-app"},
        {"access_token": "someone-else"},
    ],
)
def test_a_bad_oauth_signature_is_401(
    fake: FakeX, server: FakeXServer, override: dict[str, str]
) -> None:
    mention = fake.create_post("alice", "@aircraftml hi")
    with (
        make_client(server, auth=oauth(**override)) as x,
        pytest.raises(PermanentError, match="401"),
    ):
        x.post_reply(mention, "hello", [])


def test_a_replayed_nonce_is_401(fake: FakeX, server: FakeXServer) -> None:
    auth = OAuth1(
        CONFIG.consumer_key,
        CONFIG.consumer_secret,
        CONFIG.access_token,
        CONFIG.access_token_secret,
        nonce=lambda: "same-nonce-every-time",
    )
    with make_client(server, auth=auth) as x:
        x.fetch_post(fake.create_post("alice", "one"))
        with pytest.raises(PermanentError, match="401"):
            x.fetch_post(fake.create_post("alice", "two"))


def test_a_stale_timestamp_is_401(fake: FakeX, server: FakeXServer) -> None:
    auth = OAuth1(
        CONFIG.consumer_key,
        CONFIG.consumer_secret,
        CONFIG.access_token,
        CONFIG.access_token_secret,
        clock=lambda: time.time() - 3600,
    )
    with make_client(server, auth=auth) as x, pytest.raises(PermanentError, match="401"):
        x.fetch_post(fake.create_post("alice", "one"))


def test_a_bearer_token_works_and_a_wrong_one_is_401(fake: FakeX, server: FakeXServer) -> None:
    mention = fake.create_post("alice", "@aircraftml hi")
    with make_client(server, auth=BearerToken(CONFIG.bearer_tokens[0])) as x:
        x.post_reply(mention, "hello", [ReplyImage(JPEG, "image/jpeg", "alt")])
    with (
        make_client(server, auth=BearerToken("nope")) as x,
        pytest.raises(PermanentError, match="401"),
    ):
        x.post_reply(mention, "hello again", [])


# --- schema -------------------------------------------------------------------------


def raw_post(server: FakeXServer, body: dict[str, Any]) -> httpx.Response:
    with httpx.Client(base_url=server.base_url, auth=oauth()) as http:
        return http.post("/2/tweets", json=body)


@pytest.mark.parametrize(
    "body",
    [
        {"text": "hi", "colour": "red"},
        {"text": "hi", "reply": {"in_reply_to_tweet_id": "1", "extra": 1}},
        {"text": "hi", "reply": {"in_reply_to_tweet_id": 1}},
        {"text": "hi", "media": {"media_ids": []}},
        {"text": "hi", "media": {"media_ids": ["1", "2", "3", "4", "5"]}},
        {"text": "hi", "media": {"media_ids": [1]}},
        {"text": 7},
        {},
        {"text": "x" * 281},
    ],
)
def test_posts_outside_xs_schema_are_400(server: FakeXServer, body: dict[str, Any]) -> None:
    response = raw_post(server, body)
    assert response.status_code == 400
    assert response.json()["title"] == "Invalid Request"


def test_rate_limit_headers_come_with_every_answer(fake: FakeX, server: FakeXServer) -> None:
    first = raw_post(server, {"text": "one"})
    second = raw_post(server, {"text": "two"})
    assert first.status_code == 201 and first.json()["data"]["text"] == "one"
    assert first.headers["x-rate-limit-limit"] == "100"
    assert int(first.headers["x-rate-limit-remaining"]) - 1 == int(
        second.headers["x-rate-limit-remaining"]
    )
    assert first.headers["x-app-limit-24hour-limit"] == "10000"


# --- limits and faults --------------------------------------------------------------


def test_an_exhausted_rate_limit_is_429_until_its_reset(fake: FakeX, x: XClient) -> None:
    # Given a window of two replies per 15 minutes
    fake.set_rate_limit("POST /2/tweets", 2, window_s=900)
    mention = fake.create_post("alice", "@aircraftml hi")
    x.post_reply(mention, "one", [])
    x.post_reply(mention, "two", [])
    # When a third reply is tried
    with pytest.raises(RateLimited) as caught:
        x.post_reply(mention, "three", [])
    # Then the client waits until the window resets, about 15 minutes from now
    assert 800 < caught.value.until_epoch_s - time.time() <= 901  # + 1 s: whole seconds


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("500", TransientError),
        ("503", TransientError),
        ("drop", TransientError),
        ("429", RateLimited),
    ],
)
def test_injected_faults_hit_the_next_requests_only(
    fake: FakeX, x: XClient, kind: str, error: type
) -> None:
    # Given two faults on POST /2/tweets
    mention = fake.create_post("alice", "@aircraftml hi")
    fake.inject_fault("/2/tweets", kind, count=2, reset_after_s=30)  # type: ignore[arg-type]
    # When replying three times / Then two fail as mapped, the third succeeds
    for attempt in ("a", "b"):
        with pytest.raises(error):
            x.post_reply(mention, attempt, [])
    assert x.post_reply(mention, "c", [])
    assert [r.text for r in fake.replies] == ["c"]


def test_a_429_fault_carries_its_reset(fake: FakeX, x: XClient) -> None:
    fake.inject_fault("/2/tweets/*", "429", reset_after_s=120)
    with pytest.raises(RateLimited) as caught:
        x.fetch_post(fake.create_post("alice", "hi"))
    assert 110 < caught.value.until_epoch_s - time.time() <= 121  # + 1 s: X's whole seconds


def test_a_slow_answer_times_out_as_transient(fake: FakeX, server: FakeXServer) -> None:
    fake.inject_fault("/2/media/upload", "slow", delay_s=1.0)
    with make_client(server, timeout_s=0.2) as x, pytest.raises(TransientError, match="timed out"):
        x.upload_image(JPEG, "image/jpeg")


def test_faults_can_target_one_method_and_photo_hosting(fake: FakeX, x: XClient) -> None:
    post = x.fetch_post(fake.create_post("alice", "@aircraftml hi", [JPEG]))
    fake.inject_fault("/media/*", "503", method="GET")
    with pytest.raises(TransientError):
        x.download_photo(post.photo_urls[0])
    assert x.download_photo(post.photo_urls[0]) == JPEG


# --- webhooks -----------------------------------------------------------------------


def test_registration_runs_the_crc_check(fake: FakeX, receiver: tuple[Receiver, str]) -> None:
    _, url = receiver
    fake.register_webhook(url)
    assert fake.request_log == []  # the CRC went out, nothing came in


def test_a_webhook_that_fails_the_crc_check_is_not_registered(fake: FakeX) -> None:
    impostor = Receiver("not the consumer secret")
    with LoopbackServer(impostor.app) as running:
        with pytest.raises(WebhookRegistrationError, match="wrong response_token"):
            fake.register_webhook(running.base_url + "/webhooks/x")
        with pytest.raises(WebhookRegistrationError, match="HTTP 404"):
            fake.register_webhook(running.base_url + "/elsewhere")
    with pytest.raises(RuntimeError, match="no webhook registered"):
        fake.mention("alice", "hi")


def test_a_mention_is_delivered_signed_and_parses_into_a_request(
    fake: FakeX, server: FakeXServer, x: XClient, receiver: tuple[Receiver, str]
) -> None:
    # Given a registered webhook
    bot, url = receiver
    fake.register_webhook(url)
    # When a user mentions the bot with two photos
    result = fake.mention("alice", "what is this?", photos=[JPEG, PNG])
    # Then one signed delivery arrives and becomes one Request whose photos download
    assert result.delivered and len(result.attempts) == 1 and bot.bad_signatures == 0
    [request] = bot.requests
    assert (request.post_id, request.author_handle) == (result.post_id, "alice")
    assert request.text.startswith("@aircraftml what is this? https://t.co/")  # X adds the link
    assert [x.download_photo(u) for u in request.photo_urls] == [JPEG, PNG]


def test_an_x_activity_mention_carries_no_photos_so_the_post_is_fetched(
    fake: FakeX, x: XClient, receiver: tuple[Receiver, str]
) -> None:
    bot, url = receiver
    fake.register_webhook(url)
    parent = fake.create_post("carol", "at the fence", [JPEG])
    fake.mention("alice", "@AircraftML which one?", in_reply_to=parent, envelope="x_activity")
    [request] = bot.requests
    assert request.photo_urls == () and request.in_reply_to_id == parent
    assert request.extra["envelope"] == "x_activity"
    assert [x.download_photo(u) for u in x.fetch_post(parent).photo_urls] == [JPEG]


def test_a_failing_webhook_is_retried_on_the_scaled_schedule(
    fake: FakeX, receiver: tuple[Receiver, str]
) -> None:
    # Given a webhook that answers 500 and then 503 before it recovers
    bot, url = receiver
    fake.register_webhook(url)
    bot.failures.extend([500, 503])
    # When a mention is delivered
    result = fake.mention("alice", "hi", photos=[JPEG])
    # Then the third attempt lands
    assert [a.status for a in result.attempts] == [500, 503, 200]
    assert len(bot.requests) == 1


def test_a_webhook_that_never_answers_200_loses_the_event(
    fake: FakeX, receiver: tuple[Receiver, str]
) -> None:
    bot, url = receiver
    fake.register_webhook(url)
    bot.failures.extend([503] * 10)
    started = time.monotonic()
    result = fake.mention("alice", "hi")
    assert not result.delivered
    assert len(result.attempts) == 1 + len(CONFIG.retry_delays_s)
    assert time.monotonic() - started >= sum(CONFIG.retry_delays_s)
    assert fake.deliveries[-1] == result
    assert bot.requests == []


def test_the_admin_api_delivers_mentions_over_http(
    fake: FakeX, server: FakeXServer, receiver: tuple[Receiver, str]
) -> None:
    import base64

    bot, url = receiver
    assert httpx.post(server.base_url + "/_fake/webhook", json={"url": url}).status_code == 200
    answer = httpx.post(
        server.base_url + "/_fake/mention",
        json={
            "author_handle": "dave",
            "text": "@aircraftml?",
            "photos_base64": [base64.b64encode(JPEG).decode()],
        },
    ).json()
    assert answer["delivered"] and bot.requests[0].post_id == answer["post_id"]
    fault = {"path": "/2/tweets", "kind": "503", "count": 1}
    assert httpx.post(server.base_url + "/_fake/faults", json=fault).status_code == 200
