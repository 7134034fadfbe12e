"""The Mastodon adapter: read mentions and statuses, reply with annotated photos.

A narrow httpx client rather than Mastodon.py: Mastodon.py speaks through ``requests`` (a
second HTTP stack beside the one every other adapter and fake uses), sleeps on rate limits
itself (``ratelimit_method="wait"``) or raises without the reset time in the exception,
and polls media processing on its own schedule; the handler needs the reset time as a
``RateLimited(until)`` it can share with every worker, and one place where statuses become
our errors. The client uses eight endpoints; they are small.

Every failure is mapped onto ``aircraftml.errors`` in :func:`map_error`, and nowhere else:

    429                               -> RateLimited(until = X-RateLimit-Reset + 1 s,
                                         or now + 60 s)
    5xx, 408, timeouts, dropped links -> TransientError
    401, 403, 404, 422, other 4xx     -> PermanentError (with Mastodon's ``error``)

Replies carry an ``Idempotency-Key`` derived from the mention: Mastodon keeps the first
answer to a key for an hour, so a retry after a crash (or a lost answer) gets the first
reply back instead of posting a second. The reply's visibility is the mention's, or
narrower (a direct message stays direct; a public mention gets an unlisted reply, so the
bot does not fill the public timelines).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from aircraftml.errors import AircraftMLError, PermanentError, RateLimited, TransientError
from aircraftml.platforms.answers import guarded, json_list, json_object, no_answer_error
from aircraftml.platforms.base import Post, ReplyImage
from aircraftml.platforms.mastodon import text as mastodon_text
from aircraftml.platforms.photos import PhotoFetcher
from aircraftml.platforms.transport import platform_transport

logger = logging.getLogger(__name__)

RATE_LIMIT_FALLBACK_S = 60.0
RATE_LIMIT_RESET_MARGIN_S = 1.0
NOTIFICATIONS_PAGE = 40  # Mastodon's largest page of notifications
MAX_NOTIFICATION_PAGES = 25
MEDIA_POLL_S = 0.25
MEDIA_PROCESSING_TIMEOUT_S = 30.0
# A reply is never wider than the mention; public mentions get unlisted replies.
REPLY_VISIBILITY = {
    "public": "unlisted",
    "unlisted": "unlisted",
    "private": "private",
    "direct": "direct",
}


@dataclass(frozen=True, slots=True)
class InstanceLimits:
    """What ``/api/v2/instance`` says a status may hold."""

    max_characters: int = 500
    max_media_attachments: int = 4
    image_size_limit: int = 16 * 1024 * 1024


def map_error(
    problem: httpx.Response | Exception, what: str, now_epoch_s: float | None = None
) -> AircraftMLError:
    """The one place where Mastodon's statuses become our errors; no answer: ``no_answer_error``."""
    now = time.time() if now_epoch_s is None else now_epoch_s
    if isinstance(problem, httpx.Response):
        status = problem.status_code
        message = f"{what}: HTTP {status}: {_mastodon_message(problem)}"
        if status == 429:
            return RateLimited(message, until_epoch_s=_reset_epoch_s(problem.headers, now))
        if status >= 500 or status == 408:
            return TransientError(message)
        return PermanentError(message)
    return no_answer_error(problem, what)


def _reset_epoch_s(headers: httpx.Headers, now_epoch_s: float) -> float:
    """``X-RateLimit-Reset`` (an ISO 8601 time) plus a second; never in the past."""
    try:
        reset = datetime.fromisoformat(headers["x-ratelimit-reset"]).timestamp()
    except (KeyError, ValueError):
        return now_epoch_s + RATE_LIMIT_FALLBACK_S
    return max(reset, now_epoch_s) + RATE_LIMIT_RESET_MARGIN_S


def _mastodon_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except (ValueError, httpx.ResponseNotRead):
        return response.reason_phrase
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])
    return response.text[:200]


def idempotency_key(mention_id: str) -> str:
    """The ``Idempotency-Key`` of our reply to a mention: the same on every try."""
    return hashlib.sha256(f"aircraftml:reply:{mention_id}".encode()).hexdigest()


class MastodonClient:
    """The Mastodon adapter (``Platform``), plus ``notifications`` for the poller and
    ``verify_account`` / ``mark_as_bot`` for the start-up checks."""

    name = "mastodon"

    def __init__(
        self,
        base_url: str,
        access_token: str,
        *,
        media_hosts: Sequence[str] = (),
        photo_max_bytes: int = 15_000_000,
        photo_timeout_s: float = 15.0,
        timeout_s: float = 15.0,
        allow_insecure_media_for_testing: bool = False,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {access_token}", "User-Agent": "aircraftml"},
            timeout=timeout_s,
            follow_redirects=False,
            transport=platform_transport(self.name, transport),
        )
        hosts = tuple(media_hosts) or (httpx.URL(base_url).host,)
        self._photos = PhotoFetcher(
            self._http,
            media_hosts=hosts,
            map_error=map_error,
            host_kind="a Mastodon media host",
            max_bytes=photo_max_bytes,
            timeout_s=photo_timeout_s,
            allow_insecure_for_testing=allow_insecure_media_for_testing,
            clock=clock,
        )
        self._clock = clock
        self._account: dict[str, Any] | None = None
        self._limits: InstanceLimits | None = None

    def close(self) -> None:
        self._http.close()

    # --- the bot's account and its instance -----------------------------------------------

    def verify_account(self) -> dict[str, Any]:
        """The bot's account (``verify_credentials``); a PermanentError if the token is bad."""
        if self._account is None:
            self._account = self._call("GET", "/api/v1/accounts/verify_credentials", "account")
        return self._account

    @property
    def account_id(self) -> str:
        return str(self.verify_account()["id"])

    def mark_as_bot(self) -> bool:
        """Mark the account as a bot (its profile says so); True if it had to be marked."""
        if self.verify_account().get("bot"):
            return False
        self._account = self._call(
            "PATCH", "/api/v1/accounts/update_credentials", "mark as bot", data={"bot": "true"}
        )
        logger.info("mastodon: account %s marked as a bot", self._account.get("acct"))
        return True

    def limits(self) -> InstanceLimits:
        if self._limits is None:
            body = self._call("GET", "/api/v2/instance", "instance")
            config = body.get("configuration") or {}
            statuses = config.get("statuses") or {}
            media = config.get("media_attachments") or {}
            default = InstanceLimits()
            self._limits = InstanceLimits(
                max_characters=int(statuses.get("max_characters", default.max_characters)),
                max_media_attachments=int(
                    statuses.get("max_media_attachments", default.max_media_attachments)
                ),
                image_size_limit=int(media.get("image_size_limit", default.image_size_limit)),
            )
        return self._limits

    # --- reading -------------------------------------------------------------------------

    def notifications(self, min_id: str | None) -> list[dict[str, Any]]:
        """Mention notifications newer than ``min_id``, oldest first.

        ``min_id`` rather than ``since_id``: both return notifications newer than the id,
        but ``since_id`` gives the newest page of them, so when more than a page arrived
        between two polls the older ones would be skipped; ``min_id`` pages up from the
        cursor without a gap. With no cursor yet (a new bot), from the first one."""
        found: list[dict[str, Any]] = []
        cursor = min_id or "0"
        for _page in range(MAX_NOTIFICATION_PAGES):
            params: list[tuple[str, str | int | float | bool | None]] = [
                ("types[]", "mention"),
                ("limit", str(NOTIFICATIONS_PAGE)),
                ("min_id", cursor),
            ]
            page = self._call_list("GET", "/api/v1/notifications", "notifications", params)
            if not page:
                break
            page.sort(key=lambda n: int(n["id"]))
            found.extend(page)
            cursor = str(page[-1]["id"])
            if len(page) < NOTIFICATIONS_PAGE:
                break
        return found

    def status(self, status_id: str) -> dict[str, Any]:
        return self._call("GET", f"/api/v1/statuses/{status_id}", f"status {status_id}")

    def fetch_post(self, post_id: str) -> Post:
        return post_from_status(self.status(post_id))

    def download_photo(self, url: str) -> bytes:
        return self._photos.download(url)

    def find_reply(self, in_reply_to_id: str) -> str | None:
        """Our reply among the mention's descendants (``/context``), as Mastodon has it."""
        body = self._call(
            "GET", f"/api/v1/statuses/{in_reply_to_id}/context", f"context of {in_reply_to_id}"
        )
        me = self.account_id
        for status in body.get("descendants") or []:
            if (
                str((status.get("account") or {}).get("id")) == me
                and str(status.get("in_reply_to_id")) == in_reply_to_id
            ):
                return str(status["id"])
        return None

    # --- writing -------------------------------------------------------------------------

    def post_reply(self, in_reply_to_id: str, text: str, images: Sequence[ReplyImage]) -> str:
        """Upload the images (alt text as ``description``), then reply with the mention's
        visibility or narrower and an Idempotency-Key derived from the mention."""
        limits = self.limits()
        if (chars := mastodon_text.length(text)) > limits.max_characters:
            raise PermanentError(
                f"reply is {chars} characters; this instance takes {limits.max_characters}"
            )
        mention = self.status(in_reply_to_id)
        visibility = REPLY_VISIBILITY.get(str(mention.get("visibility")), "direct")
        media_ids = [self.upload_image(image) for image in images[: limits.max_media_attachments]]
        payload: dict[str, Any] = {
            "status": text,
            "in_reply_to_id": in_reply_to_id,
            "visibility": visibility,
            "media_ids": media_ids,
        }
        headers = {"Idempotency-Key": idempotency_key(in_reply_to_id)}
        body = self._call(
            "POST", "/api/v1/statuses", f"reply to {in_reply_to_id}", json=payload, headers=headers
        )
        reply_id = str(body["id"])
        logger.info("mastodon replied to %s with %s (%s)", in_reply_to_id, reply_id, visibility)
        return reply_id

    def upload_image(self, image: ReplyImage) -> str:
        """``POST /api/v2/media``; while it answers 202 the image is processed: poll
        ``GET /api/v1/media/:id`` until it has a URL."""
        limit = self.limits().image_size_limit
        if not image.data or len(image.data) > limit:
            raise PermanentError(f"upload image: {len(image.data)} bytes; instance takes {limit}")
        with self._guarded("upload image"):
            response = self._http.post(
                "/api/v2/media",
                files={"file": ("image.jpg", image.data, image.mime_type)},
                data={"description": image.alt_text[:1500]},
            )
        body = self._json(response, "upload image")
        media_id = str(body["id"])
        deadline = self._clock() + MEDIA_PROCESSING_TIMEOUT_S
        while response.status_code == 202 or body.get("url") is None:
            if self._clock() > deadline:
                raise TransientError(f"media {media_id}: still processing")
            time.sleep(MEDIA_POLL_S)
            with self._guarded(f"media {media_id}"):
                response = self._http.get(f"/api/v1/media/{media_id}")
            body = self._json(response, f"media {media_id}")
            if response.status_code == 200 and body.get("url"):
                break
        return media_id

    # --- plumbing ------------------------------------------------------------------------

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> dict[str, Any]:
        with self._guarded(what):
            response = self._http.request(method, path, **kwargs)
        return self._json(response, what)

    def _call_list(
        self,
        method: str,
        path: str,
        what: str,
        params: list[tuple[str, str | int | float | bool | None]],
    ) -> list[dict[str, Any]]:
        with self._guarded(what):
            response = self._http.request(method, path, params=params)
        return json_list(response, what, map_error)

    def _json(self, response: httpx.Response, what: str) -> dict[str, Any]:
        return json_object(response, what, map_error)

    def _guarded(self, what: str) -> AbstractContextManager[None]:
        return guarded(what, map_error)


def post_from_status(status: dict[str, Any]) -> Post:
    """A status as the handler needs it: its image attachments' URLs, author, parent."""
    account = status.get("account") or {}
    photos = tuple(
        str(media["url"])
        for media in status.get("media_attachments") or []
        if media.get("type") == "image" and media.get("url")
    )
    parent = status.get("in_reply_to_id")
    return Post(
        id=str(status["id"]),
        author_id=str(account.get("id", "")),
        author_handle=str(account.get("acct", "")),
        text=mastodon_text.plain_text(str(status.get("content", ""))),
        photo_urls=photos,
        in_reply_to_id=str(parent) if parent else None,
    )
