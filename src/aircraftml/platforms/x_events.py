"""Turn an X webhook delivery into the Requests the bot should answer (pure functions).

Two envelopes arrive at the same webhook:

- Account Activity (deprecated but live): ``{"for_user_id", "tweet_create_events": [v1.1
  tweet, ...], ...}``. Photos come with the tweet (``extended_entities.media``).
- X Activity API: ``{"data": {"event_type": "post.mention.create", "payload": <v2 post>,
  "includes": {"users": [...]}, ...}}``. Its posts carry no media, so ``photo_urls`` is
  empty and the handler looks the post up. X documents ``includes`` as optional ("when
  available"; its ``post.delete`` sample nests each user under ``data``), so a mention
  whose author is not in ``includes`` is kept with an empty ``author_handle``: the
  handler's lookup (``expansions=author_id``) names the author.

Kept: one Request per post whose author *summoned* the bot, i.e. mentioned it in the text
they wrote. X's rule since 2026-02-23 lets a self-serve app reply only then. A mention
that X adds by itself in front of a reply (``@bot`` before ``display_text_range``, as when
someone answers one of the bot's replies with "thanks") does not count, so the bot never
answers its own conversation. Quoting the bot without mentioning it is not handled.

Dropped: the bot's own posts, retweets, posts that do not mention the bot, and every
other kind of event (likes, follows, blocks, mutes, DMs, typing and read indicators,
deletes, ``user_event``, ``replay_job_status``, unknown keys). A malformed event is
skipped with a log line; it never spoils the rest of the delivery.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from aircraftml.domain import Request

PLATFORM = "x"
MAX_PHOTOS = 4
MENTION_EVENT_TYPE = "post.mention.create"
PHOTO_SIZE_SUFFIX = "format=jpg&name=large"

logger = logging.getLogger(__name__)

__all__ = ["MAX_PHOTOS", "PLATFORM", "requests_from_delivery"]


class _Malformed(ValueError):
    """An event lacks a field we need; skip that event."""


def requests_from_delivery(
    payload: Mapping[str, Any],
    bot_user_id: str,
    bot_handle: str,
    received_at_epoch_s: float,
) -> list[Request]:
    """Every mention of the bot in one webhook delivery, in delivery order."""
    if not isinstance(payload, Mapping):
        logger.warning("x delivery ignored: body is not a JSON object")
        return []
    bot = _Bot(bot_user_id, bot_handle.lstrip("@"))
    requests: list[Request] = []
    if "tweet_create_events" in payload:
        requests.extend(_account_activity(payload, bot, received_at_epoch_s))
    if "data" in payload:
        requests.extend(_x_activity(payload["data"], bot, received_at_epoch_s))
    return requests


class _Bot:
    def __init__(self, user_id: str, handle: str) -> None:
        self.user_id = user_id
        self.handle_lower = handle.lower()

    def is_me(self, user_id: object, handle: object = None) -> bool:
        if user_id is not None:
            return str(user_id) == self.user_id
        return isinstance(handle, str) and handle.lower() == self.handle_lower


# --- Account Activity ---------------------------------------------------------------


def _account_activity(
    payload: Mapping[str, Any], bot: _Bot, received_at_epoch_s: float
) -> Iterable[Request]:
    for_user_id = payload.get("for_user_id")
    if for_user_id is not None and str(for_user_id) != bot.user_id:
        logger.warning("x delivery ignored: for_user_id %s is not the bot", for_user_id)
        return
    events = payload["tweet_create_events"]
    if not isinstance(events, list):
        logger.warning("x delivery: tweet_create_events is not a list; skipped")
        return
    for tweet in events:
        try:
            request = _request_from_v1_tweet(tweet, bot, received_at_epoch_s)
        except _Malformed as exc:
            logger.warning("x tweet_create_event skipped: %s", exc)
            continue
        if request is not None:
            yield request


def _request_from_v1_tweet(tweet: Any, bot: _Bot, received_at_epoch_s: float) -> Request | None:
    tweet = _mapping(tweet, "tweet")
    post_id = _text_field(tweet, "id_str")
    user = _mapping(tweet.get("user"), "user")
    author_id = _text_field(user, "id_str")
    if author_id == bot.user_id:
        logger.debug("x post %s dropped: the bot's own post", post_id)
        return None
    if tweet.get("retweeted_status") is not None:
        logger.debug("x post %s dropped: a retweet", post_id)
        return None
    body = _v1_body(tweet)
    text = _text_field(body, "full_text" if "full_text" in body else "text")
    entities = body.get("entities") or {}
    mentions = _mapping(entities, "entities").get("user_mentions") or []
    if not _v1_mentions_bot(mentions, body.get("display_text_range"), bot):
        logger.debug("x post %s dropped: the author did not mention the bot", post_id)
        return None
    return Request(
        platform=PLATFORM,
        post_id=post_id,
        author_id=author_id,
        author_handle=_text_field(user, "screen_name"),
        text=text,
        photo_urls=_v1_photo_urls(body.get("extended_entities")),
        in_reply_to_id=_optional_text(tweet.get("in_reply_to_status_id_str")),
        received_at_epoch_s=received_at_epoch_s,
        extra={"envelope": "account_activity"},
    )


def _v1_body(tweet: Mapping[str, Any]) -> Mapping[str, Any]:
    """The part holding text, entities and media: ``extended_tweet`` when truncated."""
    extended = tweet.get("extended_tweet")
    if tweet.get("truncated") and isinstance(extended, Mapping):
        return extended
    return tweet


def _v1_mentions_bot(mentions: Any, display_range: Any, bot: _Bot) -> bool:
    if not isinstance(mentions, list):
        raise _Malformed("entities.user_mentions is not a list")
    start = _display_start(display_range)
    for mention in mentions:
        if not isinstance(mention, Mapping):
            continue
        if not bot.is_me(mention.get("id_str"), mention.get("screen_name")):
            continue
        if _written_by_author(mention.get("indices"), start):
            return True
    return False


def _v1_photo_urls(extended_entities: Any) -> tuple[str, ...]:
    if not isinstance(extended_entities, Mapping):
        return ()
    media = extended_entities.get("media")
    if not isinstance(media, list):
        return ()
    urls = [
        _large_photo_url(item["media_url_https"])
        for item in media
        if isinstance(item, Mapping)
        and item.get("type") == "photo"
        and isinstance(item.get("media_url_https"), str)
    ]
    return tuple(urls[:MAX_PHOTOS])


def _large_photo_url(url: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}{PHOTO_SIZE_SUFFIX}"


# --- X Activity API -----------------------------------------------------------------


def _x_activity(data: Any, bot: _Bot, received_at_epoch_s: float) -> Iterable[Request]:
    events = data if isinstance(data, list) else [data]
    for event in events:
        try:
            request = _request_from_activity_event(event, bot, received_at_epoch_s)
        except _Malformed as exc:
            logger.warning("x activity event skipped: %s", exc)
            continue
        if request is not None:
            yield request


def _request_from_activity_event(
    event: Any, bot: _Bot, received_at_epoch_s: float
) -> Request | None:
    event = _mapping(event, "data")
    event_type = event.get("event_type")
    if event_type != MENTION_EVENT_TYPE:
        logger.debug("x activity event dropped: event_type %r", event_type)
        return None
    subscribed = _mapping(event.get("filter") or {}, "filter").get("user_id")
    if subscribed is not None and str(subscribed) != bot.user_id:
        logger.warning("x activity event dropped: filter.user_id %s is not the bot", subscribed)
        return None
    post = _mapping(event.get("payload"), "payload")
    post_id = _text_field(post, "id")
    author_id = _text_field(post, "author_id")
    if author_id == bot.user_id:
        logger.debug("x post %s dropped: the bot's own post", post_id)
        return None
    referenced = _referenced(post)
    if "retweeted" in referenced:
        logger.debug("x post %s dropped: a retweet", post_id)
        return None
    text = _v2_text(post)
    if not _v2_mentions_bot(post, text, bot):
        logger.debug("x post %s dropped: the author did not mention the bot", post_id)
        return None
    raw_includes = event.get("includes")
    includes: Mapping[str, Any] = raw_includes if isinstance(raw_includes, Mapping) else {}
    extra = {"envelope": "x_activity"}
    if isinstance(event.get("event_uuid"), str):
        extra["event_uuid"] = event["event_uuid"]
    return Request(
        platform=PLATFORM,
        post_id=post_id,
        author_id=author_id,
        author_handle=_author_handle(includes, author_id),
        text=text,
        photo_urls=_v2_photo_urls(post, includes),
        in_reply_to_id=referenced.get("replied_to"),
        received_at_epoch_s=received_at_epoch_s,
        extra=extra,
    )


def _v2_text(post: Mapping[str, Any]) -> str:
    note = post.get("note_tweet")
    if isinstance(note, Mapping) and isinstance(note.get("text"), str):
        return str(note["text"])
    return _text_field(post, "text")


def _referenced(post: Mapping[str, Any]) -> dict[str, str]:
    """``{"replied_to": id, "quoted": id, "retweeted": id}`` for the kinds present."""
    found: dict[str, str] = {}
    for ref in post.get("referenced_tweets") or []:
        if isinstance(ref, Mapping) and isinstance(ref.get("type"), str) and ref.get("id"):
            found[ref["type"]] = str(ref["id"])
    return found


def _v2_mentions_bot(post: Mapping[str, Any], text: str, bot: _Bot) -> bool:
    entities = post.get("entities")
    mentions = entities.get("mentions") if isinstance(entities, Mapping) else None
    start = _display_start(post.get("display_text_range"))
    if isinstance(mentions, list):
        return any(
            isinstance(m, Mapping)
            and bot.is_me(m.get("id"), m.get("username"))
            and _written_by_author((m.get("start"), m.get("end")), start)
            for m in mentions
        )
    # No entities in the sample payloads: fall back to the text the author wrote.
    pattern = rf"(?<![\w@])@{re.escape(bot.handle_lower)}(?!\w)"
    return re.search(pattern, text[start:].lower()) is not None


def _author_handle(includes: Mapping[str, Any], author_id: str) -> str:
    """The author's username from ``includes.users`` (flat or nested under ``data``); "" if
    X did not include it, and the handler looks it up."""
    users = includes.get("users")
    for user in users if isinstance(users, list) else []:
        if isinstance(user, Mapping) and isinstance(user.get("data"), Mapping):
            user = user["data"]
        if isinstance(user, Mapping) and str(user.get("id")) == author_id:
            username = user.get("username")
            if isinstance(username, str) and username:
                return username
    logger.info("x post by %s: author not in includes; the handler looks it up", author_id)
    return ""


def _v2_photo_urls(post: Mapping[str, Any], includes: Mapping[str, Any]) -> tuple[str, ...]:
    """Photos when the delivery happens to include them (``includes.media``); else none."""
    attachments = post.get("attachments")
    keys = attachments.get("media_keys") if isinstance(attachments, Mapping) else None
    media = includes.get("media")
    if not isinstance(keys, list) or not isinstance(media, list):
        return ()
    by_key = {m.get("media_key"): m for m in media if isinstance(m, Mapping)}
    urls = [
        _large_photo_url(by_key[key]["url"])
        for key in keys
        if key in by_key
        and by_key[key].get("type") == "photo"
        and isinstance(by_key[key].get("url"), str)
    ]
    return tuple(urls[:MAX_PHOTOS])


# --- small readers ------------------------------------------------------------------


def _display_start(display_range: Any) -> int:
    """Where the text the author typed begins (after X's automatic reply mentions)."""
    if isinstance(display_range, list) and display_range and isinstance(display_range[0], int):
        return max(display_range[0], 0)
    return 0


def _written_by_author(indices: Any, display_start: int) -> bool:
    if isinstance(indices, list | tuple) and indices and isinstance(indices[0], int):
        return indices[0] >= display_start
    return display_start == 0


def _mapping(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _Malformed(f"{name} is missing or not an object")
    return value


def _text_field(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise _Malformed(f"{key} is missing or not a string")
    return value


def _optional_text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)
