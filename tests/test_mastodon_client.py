"""The Mastodon adapter against the fake Mastodon over real HTTP: replies (media, alt text,
visibility, Idempotency-Key), lookups, notifications without gaps, limits and errors."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from aircraftml.errors import PermanentError, PhotoError, RateLimited, TransientError
from aircraftml.fakes.mastodon import FakeMastodon
from aircraftml.platforms.base import ReplyImage
from aircraftml.platforms.mastodon.client import MastodonClient
from aircraftml.platforms.mastodon.mentions import MastodonMentions
from aircraftml.platforms.mastodon.text import length, plain_text
from e2e_support import jpeg
from mastodon_support import client_for, fast_fake_mastodon, served


@pytest.fixture
def fake() -> FakeMastodon:
    return fast_fake_mastodon()


@pytest.fixture
def client(fake: FakeMastodon) -> Iterator[MastodonClient]:
    with served(fake) as base_url:
        client = client_for(fake, base_url)
        yield client
        client.close()


def _image() -> ReplyImage:
    return ReplyImage(jpeg(), "image/jpeg", "A Boeing 747 in the centre")


def test_a_reply_carries_its_image_with_alt_text_and_a_narrower_visibility(
    fake: FakeMastodon, client: MastodonClient
) -> None:
    # Given a public mention with a photo
    mention = fake.mention("alice", "@aircraftml what is it?", [jpeg()], alt_texts=["my plane"])
    # When the bot replies with an annotated image
    reply_id = client.post_reply(mention, "@alice I see one aircraft.", [_image()])
    # Then one reply exists, unlisted (not on the public timelines), with the alt text
    [reply] = fake.replies_to(mention)
    assert reply.id == reply_id
    assert reply.visibility == "unlisted"
    assert [m.description for m in reply.media] == ["A Boeing 747 in the centre"]
    assert client.fetch_post(mention).photo_urls[0].endswith(".jpg")


def test_a_direct_mention_gets_a_direct_reply(fake: FakeMastodon, client: MastodonClient) -> None:
    mention = fake.mention("bob", "@aircraftml private one", [jpeg()], visibility="direct")
    client.post_reply(mention, "@bob here", [])
    assert [r.visibility for r in fake.replies_to(mention)] == ["direct"]


def test_a_retried_reply_returns_the_first_one_through_the_idempotency_key(
    fake: FakeMastodon, client: MastodonClient
) -> None:
    # Given a reply posted once (a worker that died before recording it)
    mention = fake.mention("carol", "@aircraftml ?", [jpeg()])
    first = client.post_reply(mention, "@carol one", [])
    # When another try posts it again, even with another text
    second = client.post_reply(mention, "@carol one (for your post at 10:00:00 UTC)", [])
    # Then Mastodon answers with the first reply and there is still only one
    assert second == first
    assert len(fake.replies_to(mention)) == 1
    assert client.find_reply(mention) == first


def test_find_reply_is_none_before_any_reply(fake: FakeMastodon, client: MastodonClient) -> None:
    mention = fake.mention("dan", "@aircraftml ?", [jpeg()])
    fake.create_status("erin", "@dan nice", in_reply_to_id=mention)  # someone else's reply
    assert client.find_reply(mention) is None


def test_media_still_processing_is_waited_for(fake: FakeMastodon, client: MastodonClient) -> None:
    fake.config.media_processing_s = 0.6
    mention = fake.mention("fay", "@aircraftml ?", [jpeg()])
    started = time.monotonic()
    client.post_reply(mention, "@fay done", [_image()])
    assert time.monotonic() - started >= 0.5
    assert len(fake.replies_to(mention)[0].media) == 1


def test_more_mentions_than_a_page_arrive_in_order_without_a_gap(
    fake: FakeMastodon, client: MastodonClient
) -> None:
    # Given 95 mentions (more than two pages of 40) since the cursor
    first = client.notifications(None)
    assert first == []
    posts = [fake.mention(f"user{n}", "@aircraftml hi", [jpeg()]) for n in range(95)]
    # When the poller's source reads them from no cursor
    requests, cursor = MastodonMentions(client).poll(None)
    # Then all 95 come, oldest first, and the cursor is past the last
    assert [r.post_id for r in requests] == posts
    assert MastodonMentions(client).poll(cursor) == ([], cursor)


def test_bots_and_nobot_profiles_are_not_answered(
    fake: FakeMastodon, client: MastodonClient
) -> None:
    fake.mention("otherbot", "@aircraftml ping", [jpeg()], bot=True)
    fake.mention("quiet", "@aircraftml hi", [jpeg()], note="Photographer. #NoBot please")
    wanted = fake.mention("gus", "@aircraftml hi", [jpeg()], alt_texts=["a jet"])
    requests, _ = MastodonMentions(client).poll(None)
    assert [r.post_id for r in requests] == [wanted]
    assert requests[0].author_handle == "gus"
    assert requests[0].text == "@aircraftml hi"
    assert requests[0].extra["alt_texts"] == '["a jet"]'


def test_the_account_is_marked_as_a_bot_once(fake: FakeMastodon, client: MastodonClient) -> None:
    assert client.mark_as_bot() is True
    assert fake.bot.bot is True
    assert client_for(fake, fake.base_url).mark_as_bot() is False


def test_a_429_is_rate_limited_until_the_reset(fake: FakeMastodon, client: MastodonClient) -> None:
    fake.inject_fault("/api/v1/statuses", "429", reset_after_s=30.0)
    mention = fake.mention("hal", "@aircraftml ?", [jpeg()])
    with pytest.raises(RateLimited) as caught:
        client.post_reply(mention, "@hal x", [])
    assert time.time() + 29 < caught.value.until_epoch_s < time.time() + 32


def test_the_instance_rate_limit_is_met_with_its_reset(fake: FakeMastodon) -> None:
    with served(fake) as base_url:
        fake.set_rate_limit("api", 2, 60.0)
        client = client_for(fake, base_url)
        client.verify_account()
        client.notifications(None)
        with pytest.raises(RateLimited) as caught:
            client.notifications(None)
        assert caught.value.until_epoch_s > time.time() + 55


@pytest.mark.parametrize("kind", ["500", "503", "drop"])
def test_server_errors_and_dropped_links_are_transient(
    fake: FakeMastodon, client: MastodonClient, kind: str
) -> None:
    fake.inject_fault("/api/v1/notifications", kind)  # type: ignore[arg-type]
    with pytest.raises(TransientError):
        client.notifications(None)


def test_a_bad_token_and_a_missing_status_are_permanent(
    fake: FakeMastodon, client: MastodonClient
) -> None:
    with pytest.raises(PermanentError, match="access token is invalid"):
        client_for(fake, fake.base_url, token="wrong").verify_account()
    with pytest.raises(PermanentError, match="Record not found"):
        client.fetch_post("12345")


def test_a_reply_over_the_instance_limit_is_refused_before_posting(
    fake: FakeMastodon, client: MastodonClient
) -> None:
    mention = fake.mention("ivy", "@aircraftml ?", [jpeg()])
    with pytest.raises(PermanentError, match="500"):
        client.post_reply(mention, "x" * 501, [])
    assert fake.replies == []


def test_photos_come_only_from_the_instances_hosts(
    fake: FakeMastodon, client: MastodonClient
) -> None:
    mention = fake.mention("jo", "@aircraftml ?", [jpeg()])
    url = client.fetch_post(mention).photo_urls[0]
    assert client.download_photo(url)[:2] == b"\xff\xd8"
    with pytest.raises(PhotoError, match="not a Mastodon media host"):
        client.download_photo("http://example.com/a.jpg")


def test_text_is_read_and_counted_as_mastodon_does() -> None:
    assert (
        plain_text("<p>@<span>aircraftml</span> what&#39;s this?</p>") == "@aircraftml what's this?"
    )
    assert (
        length("@bob@mastodon.social see https://example.com/" + "a" * 50) == len("@bob see ") + 23
    )
