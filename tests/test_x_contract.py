"""Every request the client sends, checked against X's pinned OpenAPI specification.

The fake and the client share code (signatures, text length), so only X's own documents
are an independent check: here the specification extract in tests/data/x (see SOURCES.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse
from starlette.routing import Route

from aircraftml.platforms.base import ReplyImage
from aircraftml.platforms.fake_x import FakeX, FakeXConfig, FakeXServer, LoopbackServer
from aircraftml.platforms.x import XClient
from aircraftml.platforms.x_auth import BearerToken, OAuth1
from aircraftml.platforms.x_fields import SERVED, SPEC, LookupDialect
from aircraftml.platforms.x_webhook import crc_response
from aircraftml.platforms.x_webhooks import XWebhookAdmin
from openapi_check import problems

CONFIG = FakeXConfig(media_processing_polls=1, allow_insecure_webhooks_for_testing=True)
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40


class Recording(httpx.HTTPTransport):
    """A real transport that keeps every request it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return super().handle_request(request)


def credential(request: httpx.Request) -> str:
    header = request.headers.get("authorization", "")
    if header.startswith("OAuth "):
        return "UserToken"
    app_tokens = {f"Bearer {t}" for t in ("app-token", *CONFIG.app_bearer_tokens)}
    return "BearerToken" if header in app_tokens else "OAuth2UserToken"


def crc_app(secret: str) -> Starlette:
    async def endpoint(request: HttpRequest) -> JSONResponse:
        return JSONResponse(crc_response(request.query_params.get("crc_token"), secret))

    return Starlette(routes=[Route("/webhooks/x", endpoint, methods=["GET"])])


@pytest.fixture(scope="module")
def server() -> Iterator[FakeXServer]:
    with FakeXServer(FakeX(CONFIG)) as running:
        yield running


def sent_by_the_bot(server: FakeXServer, dialect: LookupDialect) -> list[httpx.Request]:
    """What the client sends to answer a mention replying to a photo, with a chunked image
    that X processes, and a one-shot one."""
    fake = server.fake
    fake.reset()
    fake.config = dataclasses.replace(CONFIG, lookup_dialect=dialect)
    parent = fake.create_post("carol", "spotted", [JPEG])
    mention = fake.create_post("alice", "@aircraftml what is it?", in_reply_to=parent)
    recording = Recording()
    c = CONFIG
    auth = OAuth1(c.consumer_key, c.consumer_secret, c.access_token, c.access_token_secret)
    with XClient(
        auth,
        base_url=server.base_url,
        lookup_dialect=dialect,
        transport=recording,
        chunked_upload_above_bytes=4096,
        chunk_bytes=4096,
        sleep=lambda s: None,
        bot_user_id=c.bot_user_id,
        media_hosts=("127.0.0.1",),
        allow_insecure_media_for_testing=True,
    ) as x:
        post = x.fetch_post(mention)
        x.fetch_post(str(post.in_reply_to_id))
        images = [
            ReplyImage(JPEG, "image/jpeg", "a jet"),
            ReplyImage(JPEG[:3000], "image/jpeg", ""),
        ]
        reply = x.post_reply(mention, "It is a jet.", images)
        assert x.find_reply(mention) == reply
    return [r for r in recording.requests if r.url.path.startswith("/2/")]


def test_every_request_the_bot_sends_is_one_the_specification_allows(server: FakeXServer) -> None:
    # Given the client speaking the names X serves, translated by the one table in x_fields
    requests = sent_by_the_bot(server, SERVED)
    # Then each of its requests, renamed, is valid under the pinned specification
    operations = {(r.method, r.url.path.split("/")[-1]) for r in requests}
    assert {
        ("GET", "upload"),
        ("POST", "finalize"),
        ("POST", "metadata"),
        ("GET", "tweets"),
    } <= operations
    found = [p for r in requests for p in problems(r, credential, SERVED.renamed_to(SPEC))]
    assert found == []


def sent_to_manage_webhooks(server: FakeXServer) -> list[httpx.Request]:
    """What ``aircraftml x`` sends: register, list, revalidate, both kinds of subscription
    and their removal, and the webhook's deletion."""
    server.fake.reset()
    server.fake.config = CONFIG
    c, recording = CONFIG, Recording()
    user1 = OAuth1(c.consumer_key, c.consumer_secret, c.access_token, c.access_token_secret)
    app, user2 = BearerToken(c.app_bearer_tokens[0]), BearerToken(c.bearer_tokens[0])
    with LoopbackServer(crc_app(c.consumer_secret)) as hook:
        url = hook.base_url + "/webhooks/x"
        with XWebhookAdmin(app, user1, base_url=server.base_url, transport=recording) as x:
            webhook = x.register(url).id
            x.webhooks(), x.revalidate(webhook), x.subscribe(webhook), x.subscribers(webhook)
            x.unsubscribe(webhook, c.bot_user_id)
        with XWebhookAdmin(app, user2, base_url=server.base_url, transport=recording) as x:
            subscription = x.subscribe_mentions(webhook, c.bot_user_id)
            x.activity_subscriptions(), x.unsubscribe_activity(subscription), x.delete(webhook)
    return recording.requests


def test_every_request_to_manage_webhooks_is_one_the_specification_allows(
    server: FakeXServer,
) -> None:
    requests = sent_to_manage_webhooks(server)
    assert len(requests) == 10
    assert [p for r in requests for p in problems(r, credential)] == []


def test_in_the_specifications_names_the_lookup_is_valid_as_it_is(server: FakeXServer) -> None:
    lookups = [r for r in sent_by_the_bot(server, SPEC) if r.url.path.startswith("/2/tweets/")]
    assert len(lookups) == 2
    assert [p for r in lookups for p in problems(r, credential)] == []


def test_the_served_names_are_not_the_specifications_without_the_table(
    server: FakeXServer,
) -> None:
    [lookup, *_] = [r for r in sent_by_the_bot(server, SERVED) if "/2/tweets/" in r.url.path]
    found = problems(lookup, credential)
    assert any("'tweet.fields' is not in the specification" in p for p in found)
    assert any("'referenced_tweets.id' is not one of" in p for p in found)


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        pytest.param(
            httpx.Request(
                "POST",
                "https://api.x.com/2/media/upload",
                data={"media_category": "tweet_image", "media_type": "image/jpeg"},
                files={"media": ("a", b"x")},
                headers={"authorization": "OAuth a"},
            ),
            "form.media_type is not a property of the schema",
            id="one-shot upload with media_type",
        ),
        pytest.param(
            httpx.Request(
                "POST",
                "https://api.x.com/2/media/upload",
                files={"media": ("a", b"x")},
                headers={"authorization": "OAuth a"},
            ),
            "form.media_category is required",
            id="one-shot upload without media_category",
        ),
        pytest.param(
            httpx.Request(
                "GET",
                "https://api.x.com/2/tweets/1",
                params={"post.fields": "author"},
                headers={"authorization": "OAuth a"},
            ),
            "'author' is not one of",
            id="unknown field value",
        ),
        pytest.param(
            httpx.Request(
                "POST",
                "https://api.x.com/2/tweets",
                json={"text": "hi"},
                headers={"authorization": "Bearer app-token"},
            ),
            "sent with BearerToken",
            id="app-only token where a user's is needed",
        ),
        pytest.param(
            httpx.Request(
                "GET",
                "https://api.x.com/1.1/account_activity/all/env/webhooks.json",
                headers={"authorization": "OAuth a"},
            ),
            "no such operation",
            id="a v1.1 endpoint",
        ),
    ],
)
def test_the_check_refuses_what_the_specification_does_not_allow(
    request_: httpx.Request, expected: str
) -> None:
    request_.read()
    assert any(expected in p for p in problems(request_, credential))
