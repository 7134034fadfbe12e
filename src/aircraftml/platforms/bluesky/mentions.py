"""Bluesky's notifications (reasons mention, reply, quote) as requests for the queue, with
the network's etiquette: no answer to an account labelled ``bot`` (no loops between bots),
none to an author whose profile says ``#nobot``, none to the bot's own posts."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from aircraftml.domain import Request
from aircraftml.platforms.bluesky.client import BlueskyClient
from aircraftml.platforms.bluesky.text import says_nobot

logger = logging.getLogger(__name__)

REASONS = ("mention", "reply", "quote")


class BlueskyMentions:
    """The poller's source: the cursor is the newest ``indexedAt`` seen (ISO 8601 times of
    one server sort as strings). Notifications at the cursor's own time come again on the
    next poll; the poller's queued claims keep them from being queued twice."""

    name = "bluesky"

    def __init__(self, client: BlueskyClient) -> None:
        self._client = client

    def poll(self, cursor: str | None) -> tuple[list[Request], str | None]:
        notifications = self._client.notifications(cursor)
        me = self._client.did
        requests = [r for n in notifications if (r := self._request_for(n, me)) is not None]
        newest = max((str(n["indexedAt"]) for n in notifications), default=cursor)
        return requests, newest

    @staticmethod
    def is_after(cursor: str, other: str) -> bool:
        return cursor > other

    def _request_for(self, notification: dict[str, Any], me: str) -> Request | None:
        author = notification.get("author") or {}
        record = notification.get("record") or {}
        if notification.get("reason") not in REASONS or author.get("did") == me:
            return None
        who = author.get("handle", "?")
        if any(label.get("val") == "bot" for label in author.get("labels") or []):
            logger.info("bluesky: not answering %s: the account is labelled a bot", who)
            return None
        if says_nobot(str(author.get("description", ""))):
            logger.info("bluesky: not answering %s: their profile says #nobot", who)
            return None
        parent = ((record.get("reply") or {}).get("parent") or {}).get("uri")
        return Request(
            platform="bluesky",
            post_id=str(notification["uri"]),
            author_id=str(author.get("did", "")),
            author_handle=str(author.get("handle", "")),
            text=str(record.get("text", "")),
            photo_urls=(),  # the record has blob refs, not URLs: the handler fetches the post
            in_reply_to_id=str(parent) if parent else None,
            received_at_epoch_s=_epoch_s(str(record.get("createdAt", ""))),
        )


def _epoch_s(iso: str) -> float:
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return 0.0
