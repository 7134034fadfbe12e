"""What the local fake of X stores, and how it renders posts as X does (pure code).

Users, posts and media are plain dataclasses; the renderers turn them into the JSON X
sends: v1.1 tweets in Account Activity envelopes, v2 posts in X Activity envelopes and
in ``GET /2/tweets/:id`` answers.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

MENTION_PATTERN = re.compile(r"(?<![\w@])@(\w{1,15})")
JPEG_MAGIC = b"\xff\xd8\xff"

__all__ = [
    "FakeActivitySubscription",
    "FakeMedia",
    "FakePost",
    "FakeReply",
    "FakeUser",
    "FakeWebhook",
    "account_activity_envelope",
    "sniff_image_mime",
    "v1_tweet",
    "v2_post",
    "x_activity_envelope",
]


@dataclass(frozen=True, slots=True)
class FakeUser:
    id: str
    handle: str

    def v2(self) -> dict[str, str]:
        return {"id": self.id, "name": self.handle.title(), "username": self.handle}


@dataclass(slots=True)
class FakeMedia:
    """Uploaded or posted media; ``data`` grows while a chunked upload is appended."""

    id: str
    owner_id: str
    mime_type: str
    total_bytes: int
    segments: dict[int, bytes] = field(default_factory=dict)
    data: bytes = b""
    ready: bool = False
    alt_text: str | None = None
    polls_left: int = 0  # STATUS polls before processing ends (FakeXConfig.media_processing_polls)
    failed: bool = False

    @property
    def media_key(self) -> str:
        return f"3_{self.id}"


@dataclass(frozen=True, slots=True)
class FakePost:
    id: str
    author_id: str
    text: str
    media_ids: tuple[str, ...] = ()
    in_reply_to_id: str | None = None
    quoted_id: str | None = None
    created_at: str = "2026-04-01T12:00:00.000Z"


@dataclass(slots=True)
class FakeWebhook:
    """A registered webhook; ``valid`` turns False on a wrong CRC answer until PUT."""

    id: str
    url: str
    valid: bool = True
    created_at: str = "2026-04-01T12:00:00.000Z"

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "url": self.url, "valid": self.valid, "created_at": self.created_at}


@dataclass(frozen=True, slots=True)
class FakeActivitySubscription:
    """An X Activity API subscription (the fake delivers ``post.mention.create``)."""

    id: str
    event_type: str
    user_id: str
    webhook_id: str | None
    tag: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "subscription_id": self.id,
            "event_type": self.event_type,
            "filter": {"user_id": self.user_id},
            "tag": self.tag,
            "webhook_id": self.webhook_id,
            "created_at": "2026-04-01T12:00:00.000Z",
        }


@dataclass(frozen=True, slots=True)
class FakeReply:
    """A reply the bot posted, as recorded for tests and the demo."""

    id: str
    in_reply_to_id: str
    text: str
    media: tuple[FakeMedia, ...]

    def to_json(self, media_url: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "in_reply_to_id": self.in_reply_to_id,
            "text": self.text,
            "media": [
                {
                    "media_id": m.id,
                    "media_key": m.media_key,
                    "mime_type": m.mime_type,
                    "bytes": len(m.data),
                    "alt_text": m.alt_text,
                    "url": media_url.format(key=m.media_key),
                }
                for m in self.media
            ],
        }


def sniff_image_mime(data: bytes) -> str | None:
    """The image type from the first bytes, for the formats X accepts; None otherwise."""
    if data.startswith(JPEG_MAGIC):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


# --- renderers ----------------------------------------------------------------------


def _mentions(text: str, users_by_handle: dict[str, FakeUser]) -> list[dict[str, Any]]:
    found = []
    for match in MENTION_PATTERN.finditer(text):
        user = users_by_handle.get(match.group(1).lower())
        if user is not None:
            found.append({"user": user, "start": match.start(), "end": match.end()})
    return found


def v1_tweet(
    post: FakePost,
    author: FakeUser,
    users_by_handle: dict[str, FakeUser],
    media_url: str,
) -> dict[str, Any]:
    """A v1.1 tweet as Account Activity delivers it (``extended_tweet`` when long)."""
    media = [
        {
            "id_str": media_id,
            "type": "photo",
            "media_url_https": media_url.format(key=f"3_{media_id}"),
            "url": f"https://t.co/{media_id[-10:]}",
        }
        for media_id in post.media_ids
    ]
    suffix = f" https://t.co/{post.media_ids[0][-10:]}" if media else ""
    full_text = post.text + suffix
    mentions = [
        {
            "id_str": m["user"].id,
            "screen_name": m["user"].handle,
            "indices": [m["start"], m["end"]],
        }
        for m in _mentions(post.text, users_by_handle)
    ]
    body: dict[str, Any] = {
        "display_text_range": [0, len(post.text)],
        "entities": {"hashtags": [], "urls": [], "user_mentions": mentions},
    }
    if media:
        body["entities"]["media"] = media[:1]
        body["extended_entities"] = {"media": media}
    tweet: dict[str, Any] = {
        "created_at": "Wed Apr 01 12:00:00 +0000 2026",
        "id": int(post.id),
        "id_str": post.id,
        "user": {"id": int(author.id), "id_str": author.id, "screen_name": author.handle},
        "in_reply_to_status_id_str": post.in_reply_to_id,
        "is_quote_status": post.quoted_id is not None,
        **({"quoted_status_id_str": post.quoted_id} if post.quoted_id else {}),
        "retweeted": False,
    }
    if len(full_text) > 140:
        tweet |= {"text": full_text[:139] + "…", "truncated": True}
        tweet["extended_tweet"] = {"full_text": full_text, **body}
    else:
        tweet |= {"text": full_text, "truncated": False, **body}
    return tweet


def account_activity_envelope(bot_user_id: str, tweet: dict[str, Any]) -> dict[str, Any]:
    return {"for_user_id": bot_user_id, "user_has_blocked": "false", "tweet_create_events": [tweet]}


def v2_post(
    post: FakePost, fields: frozenset[str] = frozenset(), referenced_key: str = "referenced_tweets"
) -> dict[str, Any]:
    """A v2 post with the default fields plus those asked for (fields and expansions);
    ``referenced_key`` names the list of referenced posts (``referenced_tweets`` as X
    delivers, or the specification's ``referenced_posts``)."""
    data: dict[str, Any] = {"id": post.id, "text": post.text, "edit_history_tweet_ids": [post.id]}
    if "author_id" in fields:
        data["author_id"] = post.author_id
    if "attachments" in fields and post.media_ids:
        data["attachments"] = {"media_keys": [f"3_{m}" for m in post.media_ids]}
    references = [{"type": "replied_to", "id": post.in_reply_to_id}] if post.in_reply_to_id else []
    references += [{"type": "quoted", "id": post.quoted_id}] if post.quoted_id else []
    if referenced_key in fields and references:
        data[referenced_key] = references
    if "conversation_id" in fields:
        data["conversation_id"] = post.in_reply_to_id or post.id
    if "created_at" in fields:
        data["created_at"] = post.created_at
    return data


def x_activity_envelope(
    bot_user_id: str, post: FakePost, author: FakeUser, tag: str = "aircraftml mentions"
) -> dict[str, Any]:
    """An X Activity API ``post.mention.create`` event (its samples carry no media)."""
    fields = frozenset({"author_id", "referenced_tweets", "conversation_id", "created_at"})
    return {
        "data": {
            "event_uuid": str(uuid.uuid4()),
            "filter": {"user_id": bot_user_id},
            "event_type": "post.mention.create",
            "tag": tag,
            "payload": v2_post(post, fields),
            "includes": {"users": [author.v2()]},
        }
    }
