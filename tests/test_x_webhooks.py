"""Webhook management on X's v2 endpoints, against the fake: the app-only token for webhooks,
the bot's user tokens for its subscriptions, the CRC check re-run, and deliveries only to
subscribed, valid webhooks."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aircraftml.errors import PermanentError
from aircraftml.platforms.fake_x import FakeX, FakeXConfig, FakeXServer, LoopbackServer
from aircraftml.platforms.x import XClient
from aircraftml.platforms.x_auth import BearerToken, OAuth1, OAuth2UserToken
from aircraftml.platforms.x_events import requests_from_delivery
from aircraftml.platforms.x_webhook import crc_response
from aircraftml.platforms.x_webhooks import XWebhookAdmin
from e2e_support import wait_for

CONFIG = FakeXConfig(
    retry_delays_s=(0.02,), delivery_timeout_s=1.0, allow_insecure_webhooks_for_testing=True
)
APP = BearerToken(CONFIG.app_bearer_tokens[0])


class Hook:
    """The bot's webhook: answers the CRC (wrongly when told to), keeps what it receives."""

    def __init__(self) -> None:
        self.wrong_crc = False
        self.received: list[dict[str, object]] = []
        self.app = Starlette(routes=[Route("/webhooks/x", self.endpoint, methods=["GET", "POST"])])

    async def endpoint(self, request: HttpRequest) -> Response:
        if request.method == "GET":
            answer = crc_response(request.query_params.get("crc_token"), CONFIG.consumer_secret)
            return JSONResponse({"response_token": "sha256=wrong"} if self.wrong_crc else answer)
        self.received.append(json.loads(await request.body()))
        return Response(status_code=200)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeXServer]:
    with FakeXServer(FakeX(CONFIG)) as running:
        yield running


@pytest.fixture(scope="module")
def hook_server() -> Iterator[tuple[Hook, str]]:
    hook = Hook()
    with LoopbackServer(hook.app) as running:
        yield hook, running.base_url + "/webhooks/x"


@pytest.fixture
def fake(server: FakeXServer) -> Iterator[FakeX]:
    server.fake.reset()
    config = server.fake.config
    yield server.fake
    server.fake.config = config


@pytest.fixture
def hook(hook_server: tuple[Hook, str]) -> tuple[Hook, str]:
    hook, url = hook_server
    hook.wrong_crc = False
    hook.received.clear()
    return hook, url


def oauth1() -> OAuth1:
    c = CONFIG
    return OAuth1(c.consumer_key, c.consumer_secret, c.access_token, c.access_token_secret)


def oauth2(server: FakeXServer, saved: list[tuple[str, str]] | None = None) -> OAuth2UserToken:
    return OAuth2UserToken(
        CONFIG.bearer_tokens[0],
        CONFIG.oauth2_refresh_token,
        CONFIG.oauth2_client_id,
        CONFIG.oauth2_client_secret,
        token_url=server.base_url + "/2/oauth2/token",
        on_refresh=None if saved is None else lambda a, r: saved.append((a, r)),
    )


def admin(server: FakeXServer, user: object = None, app: object = APP) -> XWebhookAdmin:
    return XWebhookAdmin(app, user, base_url=server.base_url, timeout_s=5.0)  # type: ignore[arg-type]


# --- registering -----------------------------------------------------------------------


def test_a_webhook_is_registered_after_the_crc_check_and_listed_valid(
    fake: FakeX, server: FakeXServer, hook: tuple[Hook, str]
) -> None:
    with admin(server) as x:
        created = x.register(hook[1])
        assert [(w.id, w.url, w.valid) for w in x.webhooks()] == [(created.id, hook[1], True)]


def test_a_webhook_failing_the_crc_check_is_not_registered(
    fake: FakeX, server: FakeXServer, hook: tuple[Hook, str]
) -> None:
    hook[0].wrong_crc = True
    with admin(server) as x, pytest.raises(PermanentError, match="CrcValidationFailed"):
        x.register(hook[1])
    assert fake.webhooks == []


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://bot.example.com/webhooks/x", "must use https"),
        ("https://bot.example.com:8443/webhooks/x", "cannot include a port"),
    ],
)
def test_x_refuses_http_urls_and_ports(
    fake: FakeX, server: FakeXServer, url: str, problem: str
) -> None:
    fake.config = dataclasses.replace(CONFIG, allow_insecure_webhooks_for_testing=False)
    try:
        with admin(server) as x, pytest.raises(PermanentError, match=problem):
            x.register(url)
    finally:
        fake.config = dataclasses.replace(fake.config, allow_insecure_webhooks_for_testing=True)


def test_the_webhook_endpoints_take_only_the_app_only_token(
    fake: FakeX, server: FakeXServer, hook: tuple[Hook, str]
) -> None:
    user_bearer = BearerToken(CONFIG.bearer_tokens[0])
    with admin(server, app=oauth1()) as x, pytest.raises(PermanentError, match=r"OAuth 1\.0a User"):
        x.register(hook[1])
    with (
        admin(server, app=user_bearer) as x,
        pytest.raises(PermanentError, match=r"OAuth 2\.0 User"),
    ):
        x.webhooks()


def test_the_app_only_token_cannot_post_for_the_bot(fake: FakeX, server: FakeXServer) -> None:
    mention = fake.create_post("alice", "@aircraftml hi")
    x = XClient(APP, base_url=server.base_url)
    with x, pytest.raises(PermanentError, match="Application-Only is forbidden"):
        x.post_reply(mention, "hello", [])


# --- subscriptions and deliveries -------------------------------------------------------


def test_mentions_reach_only_a_webhook_the_bot_is_subscribed_to(
    fake: FakeX, server: FakeXServer, hook: tuple[Hook, str]
) -> None:
    with admin(server, user=oauth1()) as x:
        webhook = x.register(hook[1])
        assert not fake.mention("alice", "before subscribing").delivered
        x.subscribe(webhook.id)
        assert x.subscribers(webhook.id) == [CONFIG.bot_user_id]
        assert fake.mention("alice", "subscribed").delivered
        x.unsubscribe(webhook.id, CONFIG.bot_user_id)
        assert not fake.mention("alice", "after unsubscribing").delivered
    assert [len(r.attempts) for r in fake.deliveries] == [0, 1, 0]
    assert ["tweet_create_events" in body for body in hook[0].received] == [True]


def test_subscribing_twice_is_refused_as_x_does(
    fake: FakeX, server: FakeXServer, hook: tuple[Hook, str]
) -> None:
    with admin(server, user=oauth1()) as x:
        webhook = x.register(hook[1])
        x.subscribe(webhook.id)
        with pytest.raises(PermanentError, match="DuplicateSubscriptionFailed"):
            x.subscribe(webhook.id)
        with pytest.raises(PermanentError, match="WebhookIdInvalid"):
            x.subscribe("42")


def test_a_wrong_crc_answer_later_stops_deliveries_until_put_revalidates(
    fake: FakeX, server: FakeXServer, hook: tuple[Hook, str]
) -> None:
    with admin(server, user=oauth1()) as x:
        webhook = x.register(hook[1])
        x.subscribe(webhook.id)
        # When X's periodic CRC check gets a wrong answer
        hook[0].wrong_crc = True
        assert fake.run_crc_checks() == {webhook.id: False}
        # Then the webhook is listed invalid and mentions are not delivered
        assert [w.valid for w in x.webhooks()] == [False]
        assert not fake.mention("alice", "while invalid").delivered
        # Until a PUT finds the CRC answered right again
        assert not x.revalidate(webhook.id)
        hook[0].wrong_crc = False
        assert x.revalidate(webhook.id)
        assert fake.mention("alice", "valid again").delivered


def test_the_crc_check_runs_periodically_when_asked(hook: tuple[Hook, str]) -> None:
    fake = FakeX(dataclasses.replace(CONFIG, crc_interval_s=0.05))
    with FakeXServer(fake):
        webhook = fake.register_webhook(hook[1])
        hook[0].wrong_crc = True
        wait_for(lambda: not fake.webhooks[0].valid, 5, "the periodic CRC check")
    assert fake.webhooks[0].id == webhook


# --- X Activity API: the bot's OAuth 2.0 user token -----------------------------------


def test_mention_events_need_the_bots_oauth2_user_token(
    fake: FakeX, server: FakeXServer, hook: tuple[Hook, str]
) -> None:
    with admin(server, user=APP) as x:
        webhook = x.register(hook[1])
        with pytest.raises(PermanentError, match="private event"):
            x.subscribe_mentions(webhook.id, CONFIG.bot_user_id)


def test_mentions_arrive_as_x_activity_events_with_the_subscriptions_tag(
    fake: FakeX, server: FakeXServer, hook: tuple[Hook, str]
) -> None:
    with admin(server, user=oauth2(server)) as x:
        webhook = x.register(hook[1])
        subscription = x.subscribe_mentions(webhook.id, CONFIG.bot_user_id, tag="planes")
        assert [s.id for s in x.activity_subscriptions()] == [subscription]
        delivery = fake.mention("alice", "what is it?")
    [event] = hook[0].received
    [request] = requests_from_delivery(event, CONFIG.bot_user_id, CONFIG.bot_handle, 0.0)
    assert (request.post_id, request.author_handle) == (delivery.post_id, "alice")
    assert event["data"]["tag"] == "planes"  # type: ignore[index]
    with admin(server) as x:
        x.unsubscribe_activity(subscription)
    assert not fake.mention("alice", "unsubscribed").delivered


def test_an_expired_oauth2_token_is_refreshed_and_the_new_tokens_handed_over(
    fake: FakeX, server: FakeXServer, hook: tuple[Hook, str]
) -> None:
    saved: list[tuple[str, str]] = []
    fake.expire_user_tokens()
    with admin(server, user=oauth2(server, saved)) as x:
        webhook = x.register(hook[1])
        x.subscribe_mentions(webhook.id, CONFIG.bot_user_id)
    [(access, refresh)] = saved
    assert refresh != CONFIG.oauth2_refresh_token  # X rotates the refresh token
    assert fake.refresh_user_token(CONFIG.oauth2_refresh_token) is None  # the old one is spent
    assert access not in CONFIG.bearer_tokens
