"""The Bluesky adapter against the fake Bluesky over real HTTP: replies (thread refs, the
mention facet, record key from the mention, blobs within the limit, alt text, aspect
ratio), a second create refused and found, sessions refreshed, notifications, errors."""

from __future__ import annotations

import io
import random
import time
from collections.abc import Iterator

import pytest
from PIL import Image

from aircraftml.errors import DuplicateContent, PermanentError, RateLimited, TransientError
from aircraftml.fakes.bluesky import FakeBluesky
from aircraftml.platforms.base import ReplyImage
from aircraftml.platforms.bluesky.client import MAX_BLOB_BYTES, BlueskyClient, fit_blob
from aircraftml.platforms.bluesky.mentions import BlueskyMentions
from aircraftml.platforms.bluesky.text import graphemes, reply_rkey
from bluesky_support import client_for, fast_fake_bluesky, served
from e2e_support import jpeg


@pytest.fixture
def fake() -> FakeBluesky:
    return fast_fake_bluesky()


@pytest.fixture
def client(fake: FakeBluesky) -> Iterator[BlueskyClient]:
    with served(fake) as base_url:
        client = client_for(fake, base_url)
        yield client
        client.close()


def _noise_png(size: tuple[int, int] = (900, 700)) -> bytes:
    rng = random.Random(7)
    image = Image.frombytes(
        "RGB", size, bytes(rng.getrandbits(8) for _ in range(size[0] * size[1] * 3))
    )
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_a_reply_has_the_thread_refs_a_mention_facet_and_its_derived_record_key(
    fake: FakeBluesky, client: BlueskyClient
) -> None:
    # Given a mention that is itself a reply in someone's thread
    root = fake.create_post("spotter.bsky.social", "look at this", [jpeg()])
    mention = fake.mention("ann.bsky.social", "@aircraftml.bsky.social what is it?", reply_to=root)
    # When the bot replies with an annotated image
    image = ReplyImage(jpeg(size=(320, 200)), "image/jpeg", "A Boeing 747, centre")
    uri = client.post_reply(mention, "@ann.bsky.social I see one aircraft.", [image])
    # Then the reply sits in the thread, links the author and has the derived record key
    [reply] = fake.replies_to(mention)
    assert reply.uri == uri and reply.root_uri == root
    assert reply.rkey == reply_rkey(mention)
    [facet] = reply.facets
    assert facet["index"] == {"byteStart": 0, "byteEnd": len("@ann.bsky.social")}
    assert facet["features"][0]["did"] == fake.account("ann.bsky.social").did
    assert [(alt, ratio) for _, alt, ratio in reply.images] == [
        ("A Boeing 747, centre", {"width": 320, "height": 200})
    ]


def test_a_second_create_of_the_same_reply_is_refused_and_found(
    fake: FakeBluesky, client: BlueskyClient
) -> None:
    mention = fake.mention("bo.bsky.social", "@aircraftml.bsky.social ?", [jpeg()])
    assert client.find_reply(mention) is None
    first = client.post_reply(mention, "@bo.bsky.social one", [])
    with pytest.raises(DuplicateContent):
        client.post_reply(mention, "@bo.bsky.social one (for your post at 10:00:00 UTC)", [])
    assert client.find_reply(mention) == first
    assert len(fake.replies_to(mention)) == 1


def test_an_image_over_the_blob_limit_is_re_encoded_to_fit() -> None:
    big = _noise_png()
    assert len(big) > MAX_BLOB_BYTES
    data, mime, size = fit_blob(big, "image/png")
    assert len(data) <= MAX_BLOB_BYTES and mime == "image/jpeg"
    assert size[0] / size[1] == pytest.approx(900 / 700, rel=0.01)


def test_an_expired_session_is_refreshed(fake: FakeBluesky) -> None:
    fake.config.access_ttl_s = 0.3
    with served(fake) as base_url:
        client = client_for(fake, base_url)
        first = client.login()["accessJwt"]
        time.sleep(0.5)
        assert client.notifications(None) == []
        assert client.login()["accessJwt"] != first


def test_a_wrong_app_password_is_permanent(fake: FakeBluesky, client: BlueskyClient) -> None:
    with pytest.raises(PermanentError, match="Invalid identifier or password"):
        client_for(fake, fake.base_url, password="nope").login()


def test_notifications_come_oldest_first_over_pages_and_skip_bots_and_nobot(
    fake: FakeBluesky, client: BlueskyClient
) -> None:
    posts = [fake.mention(f"u{n}.bsky.social", "@aircraftml.bsky.social hi") for n in range(120)]
    fake.mention("loop.bsky.social", "@aircraftml.bsky.social ping", bot=True)
    fake.mention("shy.bsky.social", "@aircraftml.bsky.social hi", description="Spotter #nobot")
    source = BlueskyMentions(client)
    requests, cursor = source.poll(None)
    assert [r.post_id for r in requests] == posts
    later = fake.mention("late.bsky.social", "@aircraftml.bsky.social again")
    assert [r.post_id for r in source.poll(cursor)[0]] == [later]


def test_the_account_gets_the_bot_label_once(fake: FakeBluesky, client: BlueskyClient) -> None:
    assert client.mark_as_bot() is True
    assert fake.bot.labels == ["bot"]
    assert client.mark_as_bot() is False


def test_a_429_is_rate_limited_until_the_reset(fake: FakeBluesky, client: BlueskyClient) -> None:
    client.login()
    fake.inject_fault("/xrpc/app.bsky.notification.listNotifications", "429", reset_after_s=20)
    with pytest.raises(RateLimited) as caught:
        client.notifications(None)
    assert time.time() + 18 < caught.value.until_epoch_s < time.time() + 23


@pytest.mark.parametrize("kind", ["500", "503", "drop"])
def test_server_errors_and_dropped_links_are_transient(
    fake: FakeBluesky, client: BlueskyClient, kind: str
) -> None:
    client.login()
    fake.inject_fault("/xrpc/app.bsky.feed.getPosts", kind)  # type: ignore[arg-type]
    with pytest.raises(TransientError):
        client.fetch_post("at://did:plc:x/app.bsky.feed.post/3k")


def test_a_reply_over_300_graphemes_is_refused_before_posting(
    fake: FakeBluesky, client: BlueskyClient
) -> None:
    mention = fake.mention("cy.bsky.social", "@aircraftml.bsky.social ?")
    with pytest.raises(PermanentError, match="300"):
        client.post_reply(mention, "é" * 301, [])
    assert fake.replies == []


def test_graphemes_are_counted_as_people_see_them() -> None:
    assert graphemes("plane") == 5
    assert graphemes("e\u0301") == 1  # e + combining acute
    assert graphemes("👩\u200d✈️") == 1  # woman pilot (ZWJ sequence)
    assert graphemes("🇫🇷🇬🇧") == 2  # two flags
