"""Parsing and filtering X webhook deliveries (x_events), with realistic payloads."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aircraftml.domain import Request
from aircraftml.platforms.x_events import requests_from_delivery

BOT_ID = "1000"
BOT = "aircraftml"
NOW_S = 1_775_000_000.0
SUFFIX = "?format=jpg&name=large"
DATA = Path(__file__).parent / "data" / "x"


def photo(key: str, kind: str = "photo") -> dict[str, Any]:
    return {
        "id_str": key,
        "type": kind,
        "media_url_https": f"https://pbs.twimg.com/media/{key}.jpg",
        "url": "https://t.co/abc",
    }


def tweet(
    text: str = "@aircraftml what plane is this?",
    *,
    id_str: str = "1850000000000000001",
    user_id: str = "2001",
    handle: str = "alice",
    media: list[dict[str, Any]] | None = None,
    reply_to: str | None = None,
    mentions: list[tuple[str, str, int]] | None = None,
    display_start: int = 0,
) -> dict[str, Any]:
    """A v1.1 tweet as Account Activity delivers it."""
    if mentions is None:
        mentions = [(BOT_ID, BOT, text.find("@aircraftml"))] if "@aircraftml" in text else []
    result: dict[str, Any] = {
        "created_at": "Wed Apr 01 12:00:00 +0000 2026",
        "id": int(id_str),
        "id_str": id_str,
        "text": text,
        "display_text_range": [display_start, len(text)],
        "truncated": False,
        "in_reply_to_status_id_str": reply_to,
        "user": {"id": int(user_id), "id_str": user_id, "screen_name": handle},
        "entities": {
            "hashtags": [],
            "urls": [],
            "user_mentions": [
                {"id_str": uid, "screen_name": name, "indices": [start, start + len(name) + 1]}
                for uid, name, start in mentions
            ],
        },
        "retweeted": False,
    }
    if media:
        result["entities"]["media"] = media[:1]
        result["extended_entities"] = {"media": media}
    return result


def account_activity(*tweets: dict[str, Any], **other: Any) -> dict[str, Any]:
    return {
        "for_user_id": BOT_ID,
        "user_has_blocked": "false",
        "tweet_create_events": list(tweets),
        **other,
    }


def activity_event(
    *,
    event_type: str = "post.mention.create",
    post_id: str = "1850000000000000009",
    author_id: str = "2002",
    username: str = "bob",
    text: str = "@aircraftml which airliner?",
    referenced: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """One X Activity API event (the samples carry no media)."""
    payload: dict[str, Any] = {
        "id": post_id,
        "text": text,
        "author_id": author_id,
        "edit_history_tweet_ids": [post_id],
    }
    if referenced is not None:
        payload["referenced_tweets"] = referenced
    return {
        "event_uuid": "0f1b6f38-6b2f-4a55-9d0c-3d7b1c2a9e11",
        "filter": {"user_id": BOT_ID},
        "event_type": event_type,
        "tag": "mentions",
        "payload": payload,
        "includes": {"users": [{"id": author_id, "name": "Bob", "username": username}]},
    }


def parse(payload: Any) -> list[Request]:
    return requests_from_delivery(payload, BOT_ID, BOT, NOW_S)


# --- Account Activity: kept ---------------------------------------------------------


def test_a_mention_with_photos_becomes_one_request_with_large_photo_urls() -> None:
    # Given a mention with two photos and a video
    media = [photo("A1"), photo("V1", "video"), photo("B2")]
    delivery = account_activity(tweet(media=media))
    # When parsed
    [request] = parse(delivery)
    # Then the request names the post, author and photos only (at the large size)
    assert request == Request(
        platform="x",
        post_id="1850000000000000001",
        author_id="2001",
        author_handle="alice",
        text="@aircraftml what plane is this?",
        photo_urls=(
            f"https://pbs.twimg.com/media/A1.jpg{SUFFIX}",
            f"https://pbs.twimg.com/media/B2.jpg{SUFFIX}",
        ),
        in_reply_to_id=None,
        received_at_epoch_s=NOW_S,
        extra={"envelope": "account_activity"},
    )
    assert Request.from_json(request.to_json()) == request


def test_at_most_four_photos_are_kept() -> None:
    media = [photo(f"P{i}") for i in range(6)]
    [request] = parse(account_activity(tweet(media=media)))
    assert len(request.photo_urls) == 4


def test_a_truncated_tweet_is_read_from_extended_tweet() -> None:
    # Given a long mention whose text, entities and media live in extended_tweet
    long_text = "@aircraftml " + "spotted at the airport this morning, " * 5
    full = tweet(long_text, media=[photo("L1")])
    compat = {k: v for k, v in full.items() if k not in ("entities", "extended_entities")}
    compat |= {"text": long_text[:139] + "…", "truncated": True, "entities": {"user_mentions": []}}
    compat["extended_tweet"] = {
        "full_text": long_text,
        "display_text_range": [0, len(long_text)],
        "entities": full["entities"],
        "extended_entities": full["extended_entities"],
    }
    # When parsed
    [request] = parse(account_activity(compat))
    # Then the full text and the photo are used
    assert request.text == long_text
    assert request.photo_urls == (f"https://pbs.twimg.com/media/L1.jpg{SUFFIX}",)


def test_a_mention_replying_to_a_photo_post_is_kept_with_its_parent() -> None:
    [request] = parse(account_activity(tweet("@aircraftml this one?", reply_to="1849999")))
    assert request.photo_urls == ()
    assert request.in_reply_to_id == "1849999"


def test_a_mention_without_any_photo_is_kept_for_the_help_reply() -> None:
    [request] = parse(account_activity(tweet("@aircraftml hello")))
    assert request.photo_urls == () and request.in_reply_to_id is None


def test_the_bot_is_recognised_by_handle_when_the_mention_lacks_an_id() -> None:
    mentions = [("", "AircraftML", 0)]
    t = tweet("@AircraftML what is it?", mentions=mentions)
    del t["entities"]["user_mentions"][0]["id_str"]
    assert len(parse(account_activity(t))) == 1


def test_several_mentions_in_one_delivery_give_several_requests_in_order() -> None:
    first = tweet(id_str="1", media=[photo("A")])
    second = tweet(id_str="2", user_id="2005", handle="carol")
    assert [r.post_id for r in parse(account_activity(first, second))] == ["1", "2"]


# --- Account Activity: dropped ------------------------------------------------------


def test_the_bots_own_posts_are_dropped() -> None:
    own = tweet("@aircraftml Boeing 737-800 (91%)", user_id=BOT_ID, handle=BOT)
    assert parse(account_activity(own)) == []


def test_retweets_are_dropped() -> None:
    retweet = tweet("RT @alice: @aircraftml what plane is this?")
    retweet["retweeted_status"] = tweet()
    assert parse(account_activity(retweet)) == []


def test_a_post_that_does_not_mention_the_bot_is_dropped() -> None:
    other = tweet("@bob nice plane", mentions=[("3003", "bob", 0)], media=[photo("X")])
    assert parse(account_activity(other)) == []


def test_a_reply_to_the_bot_where_x_added_the_mention_itself_is_dropped() -> None:
    # Given "thanks!" typed in answer to the bot's reply: X puts "@aircraftml " in front,
    # outside display_text_range, so the author did not summon the bot
    text = "@aircraftml thanks!"
    thanks = tweet(text, reply_to="1900000000000000004", display_start=len("@aircraftml "))
    # When / Then nothing is answered (no reply loop)
    assert parse(account_activity(thanks)) == []


def test_a_mention_typed_after_the_automatic_reply_mentions_is_kept() -> None:
    text = "@carol @aircraftml what is this?"
    t = tweet(text, mentions=[("3003", "carol", 0), (BOT_ID, BOT, 7)], display_start=7)
    assert len(parse(account_activity(t))) == 1


OTHER_EVENTS: dict[str, Any] = {
    "favorite_events": [{"id": "f1", "favorited_status": tweet(), "user": {"id_str": "2001"}}],
    "follow_events": [{"type": "follow", "source": {"id": "2001"}, "target": {"id": BOT_ID}}],
    "block_events": [{"type": "block", "source": {"id": "2001"}, "target": {"id": BOT_ID}}],
    "mute_events": [{"type": "mute", "source": {"id": "2001"}, "target": {"id": BOT_ID}}],
    "direct_message_events": [
        {"type": "message_create", "message_create": {"message_data": {"text": "@aircraftml"}}}
    ],
    "direct_message_indicate_typing_events": [
        {"sender_id": "2001", "target": {"recipient_id": BOT_ID}}
    ],
    "direct_message_mark_read_events": [{"sender_id": "2001", "last_read_event_id": "1"}],
    "tweet_delete_events": [{"status": {"id": "1", "user_id": "2001"}, "timestamp_ms": "1"}],
    "user_event": {"revoke": {"date_time": "2026-04-01T12:00:00Z", "source": {"user_id": "2001"}}},
    "replay_job_status": {"job_id": "1", "job_state": "Complete"},
    "something_new_in_2027": [{"id": "1"}],
}


@pytest.mark.parametrize("kind", sorted(OTHER_EVENTS))
def test_other_account_activity_events_give_no_request(kind: str) -> None:
    # Given a delivery with only that kind of event (users/apps maps as X adds them)
    delivery = {"for_user_id": BOT_ID, kind: OTHER_EVENTS[kind], "users": {}, "apps": {}}
    # When / Then
    assert parse(delivery) == []


def test_other_events_next_to_a_mention_do_not_hide_it() -> None:
    delivery = account_activity(tweet(), **OTHER_EVENTS)
    assert len(parse(delivery)) == 1


def test_a_delivery_for_another_subscribed_user_is_ignored() -> None:
    delivery = account_activity(tweet())
    delivery["for_user_id"] = "999"
    assert parse(delivery) == []


# --- malformed parts ----------------------------------------------------------------


@pytest.mark.parametrize(
    "breakage",
    [
        lambda t: t.pop("user"),
        lambda t: t.pop("id_str"),
        lambda t: t.update(user="alice"),
        lambda t: t["user"].pop("screen_name"),
        lambda t: t.update(text=None),
        lambda t: t["entities"].update(user_mentions="@aircraftml"),
        lambda t: t.update(entities=["not", "an", "object"]),
    ],
)
def test_a_malformed_tweet_is_skipped_and_the_rest_of_the_delivery_kept(
    breakage: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a delivery with a broken tweet before a good one
    broken = tweet(id_str="1")
    breakage(broken)
    good = tweet(id_str="2")
    # When parsed
    with caplog.at_level(logging.WARNING, logger="aircraftml.platforms.x_events"):
        requests = parse(account_activity(broken, good, "not a tweet"))
    # Then the good one survives and the skips are logged
    assert [r.post_id for r in requests] == ["2"]
    assert "skipped" in caplog.text


@pytest.mark.parametrize(
    "payload",
    [None, [], "text", {"tweet_create_events": "nope"}, {"data": "nope"}, {"data": [1, None]}],
)
def test_a_delivery_of_the_wrong_shape_gives_no_request(payload: Any) -> None:
    assert parse(payload) == []


def test_broken_photo_entries_are_ignored_but_the_mention_kept() -> None:
    media = [photo("OK"), {"type": "photo"}, "junk", {"type": "photo", "media_url_https": 7}]
    [request] = parse(account_activity(tweet(media=media)))
    assert request.photo_urls == (f"https://pbs.twimg.com/media/OK.jpg{SUFFIX}",)


# --- X Activity API -----------------------------------------------------------------


def test_an_activity_mention_becomes_a_request_without_photos() -> None:
    # Given an X Activity API mention replying to another post
    event = activity_event(referenced=[{"type": "replied_to", "id": "1849999"}])
    # When parsed
    [request] = parse({"data": event})
    # Then the handler is left to fetch the photos
    assert request.post_id == "1850000000000000009"
    assert (request.author_id, request.author_handle) == ("2002", "bob")
    assert request.photo_urls == ()
    assert request.in_reply_to_id == "1849999"
    assert request.extra == {
        "envelope": "x_activity",
        "event_uuid": "0f1b6f38-6b2f-4a55-9d0c-3d7b1c2a9e11",
    }


def test_activity_photos_are_used_when_the_delivery_includes_media() -> None:
    event = activity_event()
    event["payload"]["attachments"] = {"media_keys": ["3_1", "7_2"]}
    event["includes"]["media"] = [
        {"media_key": "3_1", "type": "photo", "url": "https://pbs.twimg.com/media/Z.jpg"},
        {"media_key": "7_2", "type": "video"},
    ]
    [request] = parse({"data": event})
    assert request.photo_urls == (f"https://pbs.twimg.com/media/Z.jpg{SUFFIX}",)


@pytest.mark.parametrize(
    "event",
    [
        activity_event(event_type="post.like.create"),
        activity_event(event_type="follow.follow"),
        activity_event(event_type="dm.received"),
        activity_event(event_type="post.delete"),
        activity_event(author_id=BOT_ID, username=BOT),  # the bot's own post
        activity_event(referenced=[{"type": "retweeted", "id": "1"}]),
        activity_event(text="@bob nice one"),  # does not mention the bot
        activity_event(text="@aircraftmlfan look"),  # a longer handle is someone else
    ],
)
def test_activity_events_that_are_not_summoning_mentions_are_dropped(event: Any) -> None:
    assert parse({"data": event}) == []


def test_activity_mentions_in_entities_are_checked_when_present() -> None:
    event = activity_event(text="@AircraftML what is it?")
    event["payload"]["entities"] = {
        "mentions": [{"start": 0, "end": 12, "username": "AircraftML", "id": BOT_ID}]
    }
    assert len(parse({"data": event})) == 1
    event["payload"]["entities"] = {
        "mentions": [{"start": 0, "end": 4, "username": "bob", "id": "3"}]
    }
    assert parse({"data": event}) == []


def test_an_activity_event_for_another_user_is_dropped() -> None:
    event = activity_event()
    event["filter"]["user_id"] = "999"
    assert parse({"data": event}) == []


def test_a_malformed_activity_event_is_skipped_and_the_others_kept() -> None:
    no_author = activity_event(post_id="1")
    del no_author["payload"]["author_id"]
    no_payload = copy.deepcopy(activity_event(post_id="2"))
    del no_payload["payload"]
    good = activity_event(post_id="3")
    assert [r.post_id for r in parse({"data": [no_author, no_payload, good]})] == ["3"]


# --- X's own sample payload (tests/data/x/post_mention_create.json) ----------------

SAMPLE_BOT_ID, SAMPLE_BOT = "1111111111111111111", "ExampleUser"


def x_sample() -> dict[str, Any]:
    return json.loads((DATA / "post_mention_create.json").read_text(encoding="utf-8"))


def parse_sample(payload: Any) -> list[Request]:
    return requests_from_delivery(payload, SAMPLE_BOT_ID, SAMPLE_BOT, NOW_S)


def test_xs_own_mention_sample_becomes_a_request_naming_the_author() -> None:
    [request] = parse_sample(x_sample())
    assert request.post_id == "2080765813578191303"
    assert (request.author_id, request.author_handle) == ("2222222222222222222", "OtherUser")
    assert request.extra["event_uuid"] == "2080765813578191303"


@pytest.mark.parametrize(
    "strip",
    [
        pytest.param(lambda d: d.pop("includes"), id="includes removed"),
        pytest.param(lambda d: d.update(includes={}), id="includes empty (X's reply sample)"),
        pytest.param(lambda d: d["includes"].pop("users"), id="users removed"),
        pytest.param(lambda d: d["includes"].update(users=[]), id="no users"),
    ],
)
def test_xs_sample_without_includes_is_kept_for_the_handler_to_name(
    strip: Callable[[dict[str, Any]], object],
) -> None:
    # Given X's sample with what X calls optional taken out
    payload = x_sample()
    strip(payload["data"])
    # When parsed, Then the mention is kept; the handler's lookup will name the author
    [request] = parse_sample(payload)
    assert (request.post_id, request.author_id) == ("2080765813578191303", "2222222222222222222")
    assert request.author_handle == ""


def test_xs_sample_with_users_nested_under_data_names_the_author() -> None:
    # Given the users nested under "data", as X's post.delete sample has them
    payload = x_sample()
    users = payload["data"]["includes"]["users"]
    payload["data"]["includes"]["users"] = [{"data": user} for user in users]
    [request] = parse_sample(payload)
    assert request.author_handle == "OtherUser"
