"""Mastodon's mention notifications as requests for the queue, with the etiquette the
fediverse expects: no answer to another bot (no loops between bots), none to an author
whose profile says ``#nobot``, none to the bot's own posts."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from aircraftml.domain import Request
from aircraftml.platforms.mastodon.client import MastodonClient, post_from_status
from aircraftml.platforms.mastodon.text import says_nobot

logger = logging.getLogger(__name__)


class MastodonMentions:
    """The poller's source (``poller.MentionSource``): the cursor is the newest
    notification id seen (Mastodon's ids grow with time)."""

    name = "mastodon"

    def __init__(self, client: MastodonClient) -> None:
        self._client = client

    def poll(self, cursor: str | None) -> tuple[list[Request], str | None]:
        notifications = self._client.notifications(cursor)
        me = self._client.account_id
        requests = [
            request
            for notification in notifications
            if (request := self._request_for(notification, me)) is not None
        ]
        newest = str(notifications[-1]["id"]) if notifications else cursor
        return requests, newest

    @staticmethod
    def is_after(cursor: str, other: str) -> bool:
        return int(cursor) > int(other)

    def _request_for(self, notification: dict[str, Any], me: str) -> Request | None:
        status = notification.get("status")
        account = notification.get("account") or {}
        if notification.get("type") != "mention" or not isinstance(status, dict):
            return None
        who = account.get("acct", "?")
        if str(account.get("id")) == me:
            return None
        if account.get("bot"):
            logger.info("mastodon: not answering %s: the author is a bot", who)
            return None
        if says_nobot(str(account.get("note", ""))):
            logger.info("mastodon: not answering %s: their profile says #nobot", who)
            return None
        post = post_from_status(status)
        alt_texts = [
            str(media.get("description") or "")
            for media in status.get("media_attachments") or []
            if media.get("type") == "image"
        ]
        return Request(
            platform="mastodon",
            post_id=post.id,
            author_id=post.author_id,
            author_handle=post.author_handle,
            text=post.text,
            photo_urls=post.photo_urls,
            in_reply_to_id=post.in_reply_to_id,
            received_at_epoch_s=_epoch_s(str(status.get("created_at", ""))),
            extra={
                "visibility": str(status.get("visibility", "")),
                "alt_texts": json.dumps(alt_texts),
            },
        )


def _epoch_s(iso: str) -> float:
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return 0.0
