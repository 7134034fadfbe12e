"""The fake refuses what X refuses: unknown lookup names, upload fields outside the schema,
unprocessed media; and the client waits for X's media processing before it posts."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from aircraftml.errors import PermanentError
from aircraftml.platforms.base import ReplyImage
from aircraftml.platforms.fake_x import NOT_SUMMONED_DETAIL, FakeX, FakeXConfig, FakeXServer
from aircraftml.platforms.x import XClient
from aircraftml.platforms.x_auth import OAuth1
from aircraftml.platforms.x_fields import SERVED, SPEC

CONFIG = FakeXConfig()
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40


def oauth() -> OAuth1:
    c = CONFIG
    return OAuth1(c.consumer_key, c.consumer_secret, c.access_token, c.access_token_secret)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeXServer]:
    with FakeXServer(FakeX(CONFIG)) as running:
        yield running


@pytest.fixture
def fake(server: FakeXServer) -> Iterator[FakeX]:
    server.fake.reset()
    config = server.fake.config
    yield server.fake
    server.fake.config = config


def configure(fake: FakeX, **changes: Any) -> None:
    fake.config = dataclasses.replace(fake.config, **changes)


def http(server: FakeXServer) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, auth=oauth(), timeout=2.0)


def chunking_client(server: FakeXServer, sleeps: list[float]) -> XClient:
    return XClient(
        oauth(),
        base_url=server.base_url,
        chunked_upload_above_bytes=4096,
        chunk_bytes=4096,
        sleep=sleeps.append,
    )


# --- post lookup: names X does not know are 400 -------------------------------------


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"post.fields": "conversation_id"}, "The query parameter [post.fields] is not one of"),
        ({"tweet.fields": "note_post"}, "The `tweet.fields` query parameter value [note_post]"),
        ({"expansions": "referenced_posts"}, "value [referenced_posts] is not one of"),
        ({"media.fields": "urls"}, "The `media.fields` query parameter value [urls]"),
        ({"user.fields": ""}, "The `user.fields` query parameter value []"),
    ],
)
def test_a_lookup_with_names_x_does_not_serve_is_400(
    fake: FakeX, server: FakeXServer, params: dict[str, str], named: str
) -> None:
    post_id = fake.create_post("alice", "hello")
    with http(server) as client:
        response = client.get(f"/2/tweets/{post_id}", params=params)
    assert response.status_code == 400
    assert named in response.json()["errors"][0]["message"]


def test_the_fake_can_serve_the_specifications_names_instead(
    fake: FakeX, server: FakeXServer
) -> None:
    configure(fake, lookup_dialect=SPEC)
    parent = fake.create_post("carol", "photo", [JPEG])
    mention = fake.create_post("alice", "@aircraftml this?", in_reply_to=parent)
    with http(server) as client:
        refused = client.get(f"/2/tweets/{mention}", params=SERVED.params())
        served = client.get(f"/2/tweets/{mention}", params=SPEC.params())
    assert refused.status_code == 400
    assert served.json()["data"]["referenced_posts"] == [{"type": "replied_to", "id": parent}]


def test_the_client_follows_a_fake_that_serves_the_specifications_names(
    fake: FakeX, server: FakeXServer
) -> None:
    # Given X answering only the v2.167 names
    configure(fake, lookup_dialect=SPEC)
    parent = fake.create_post("carol", "photo", [JPEG])
    mention = fake.create_post("alice", "@aircraftml this?", in_reply_to=parent)
    with XClient(oauth(), base_url=server.base_url) as x:
        # When the client (speaking the guides' names) looks the mention up twice
        first, second = x.fetch_post(mention), x.fetch_post(mention)
    # Then one refusal, then the other names, kept
    assert (first.in_reply_to_id, first.author_handle) == (parent, "alice")
    assert second.in_reply_to_id == parent
    lookups = [status for method, path, status in fake.request_log if path.startswith("/2/tweets/")]
    assert lookups == [400, 200, 200]


# --- one-shot upload: X's schema ------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "problem"),
    [
        ({"media_category": "tweet_image", "media_type": "image/jpeg"}, "$.media_type is not"),
        ({}, "$.media_category is required"),
        ({"media_category": "tweet_picture"}, "is not one of"),
    ],
)
def test_a_one_shot_upload_outside_the_schema_is_400(
    server: FakeXServer, form: dict[str, str], problem: str
) -> None:
    with http(server) as client:
        response = client.post("/2/media/upload", data=form, files={"media": ("a", JPEG)})
    assert response.status_code == 400
    assert problem in response.json()["errors"][0]["message"]


def test_a_non_image_is_refused_as_a_tweet_image(server: FakeXServer) -> None:
    form = {"media_category": "tweet_image"}
    with http(server) as client:
        response = client.post("/2/media/upload", data=form, files={"media": ("a", b"RIFFxx")})
    assert response.status_code == 400


def test_the_clients_one_shot_upload_is_within_the_schema(fake: FakeX, server: FakeXServer) -> None:
    with XClient(oauth(), base_url=server.base_url) as x:
        media_id = x.upload_image(JPEG, "image/jpeg")
    assert fake.media(media_id).data == JPEG


# --- chunked upload: processing -------------------------------------------------------


def test_the_client_polls_status_until_processing_succeeds_before_posting(
    fake: FakeX, server: FakeXServer
) -> None:
    # Given X that needs two STATUS polls to process a chunked upload
    configure(fake, media_processing_polls=2)
    mention = fake.create_post("alice", "@aircraftml big one")
    sleeps: list[float] = []
    with chunking_client(server, sleeps) as x:
        x.post_reply(mention, "A380", [ReplyImage(JPEG, "image/jpeg", "")])
    # Then it waited X's check_after_secs twice, polled twice, and only then posted
    assert sleeps == [1.0, 1.0]
    calls = [(m, p.split("/")[-1]) for m, p, _ in fake.request_log]
    assert calls[-4:] == [
        ("POST", "finalize"),
        ("GET", "upload"),
        ("GET", "upload"),
        ("POST", "tweets"),
    ]
    assert fake.replies[0].media[0].data == JPEG


def test_media_that_x_fails_to_process_is_a_permanent_error_and_nothing_is_posted(
    fake: FakeX, server: FakeXServer
) -> None:
    configure(fake, media_processing_polls=1, media_processing_outcome="failed")
    mention = fake.create_post("alice", "@aircraftml big one")
    with chunking_client(server, []) as x, pytest.raises(PermanentError, match="Unsupported"):
        x.post_reply(mention, "A380", [ReplyImage(JPEG, "image/jpeg", "")])
    assert fake.replies == []


def test_a_post_naming_media_still_processing_is_refused(fake: FakeX, server: FakeXServer) -> None:
    configure(fake, media_processing_polls=3)
    mention = fake.create_post("alice", "@aircraftml big one")
    with http(server) as client:
        init = {
            "media_type": "image/jpeg",
            "total_bytes": len(JPEG),
            "media_category": "tweet_image",
        }
        media_id = client.post("/2/media/upload/initialize", json=init).json()["data"]["id"]
        client.post(
            f"/2/media/upload/{media_id}/append",
            data={"segment_index": "0"},
            files={"media": ("c", JPEG)},
        )
        finalized = client.post(f"/2/media/upload/{media_id}/finalize").json()["data"]
        reply = {
            "text": "x",
            "reply": {"in_reply_to_tweet_id": mention},
            "media": {"media_ids": [media_id]},
        }
        refused = client.post("/2/tweets", json=reply)
    assert finalized["processing_info"] == {
        "state": "pending",
        "check_after_secs": 1,
        "progress_percent": 50,
    }
    assert refused.status_code == 400


def test_the_chunked_endpoints_count_against_their_own_limits(
    fake: FakeX, server: FakeXServer
) -> None:
    with http(server) as client:
        one_shot = client.post(
            "/2/media/upload", data={"media_category": "tweet_image"}, files={"media": ("a", JPEG)}
        )
        init = {
            "media_type": "image/jpeg",
            "total_bytes": len(JPEG),
            "media_category": "tweet_image",
        }
        chunked = client.post("/2/media/upload/initialize", json=init)
    assert one_shot.headers["x-rate-limit-limit"] == "500"
    assert (chunked.headers["x-rate-limit-limit"], chunked.headers["x-rate-limit-remaining"]) == (
        "1875",
        "1874",
    )


# --- who may be answered; what the alt text call answers ---------------------------------


def test_a_reply_to_a_post_quoting_the_bot_is_allowed(fake: FakeX, server: FakeXServer) -> None:
    # Given alice quoting one of the bot's posts without mentioning it
    bots_post = fake.create_post(CONFIG.bot_handle, "I saw an A380")
    quote = fake.create_post("alice", "look at this", quote_of=bots_post)
    with XClient(oauth(), base_url=server.base_url) as x:
        x.post_reply(quote, "Thanks!", [])
    assert [r.in_reply_to_id for r in fake.replies] == [quote]


def test_a_reply_to_a_post_quoting_someone_else_is_refused_in_xs_words(
    fake: FakeX, server: FakeXServer
) -> None:
    quote = fake.create_post("alice", "look", quote_of=fake.create_post("bob", "a jet"))
    with XClient(oauth(), base_url=server.base_url) as x, pytest.raises(PermanentError) as refused:
        x.post_reply(quote, "Thanks!", [])
    assert NOT_SUMMONED_DETAIL in str(refused.value)
    assert NOT_SUMMONED_DETAIL.startswith("Reply to this conversation is not allowed")


def test_setting_alt_text_answers_the_metadata_as_an_object(
    fake: FakeX, server: FakeXServer
) -> None:
    with XClient(oauth(), base_url=server.base_url) as x:
        media_id = x.upload_image(JPEG, "image/jpeg")
    payload = {"id": media_id, "metadata": {"alt_text": {"text": "a jet"}}}
    with http(server) as client:
        answer = client.post("/2/media/metadata", json=payload).json()
    assert answer == {
        "data": {"id": media_id, "associated_metadata": {"alt_text": {"text": "a jet"}}}
    }
