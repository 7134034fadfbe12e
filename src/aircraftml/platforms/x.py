"""The X API client: the Platform adapter the handler uses to read posts and reply.

All network I/O goes through one ``httpx.Client`` (pass ``transport=`` to swap in
``httpx.MockTransport``, or ``base_url=`` to talk to the local fake). Every failure is
mapped onto ``aircraftml.errors`` in :func:`map_error`, and nowhere else:

    429                          -> RateLimited(until = the exhausted windows' reset + 1 s,
                                    or now + 60 s)
    5xx, 408, timeouts,
    connect errors, dropped links -> TransientError
    403 duplicate content         -> DuplicateContent
    401, other 4xx                -> PermanentError (with X's message)
    photo outside the limits      -> PhotoRefused (https, media host, redirects),
                                     PhotoTooLarge, PhotoTimedOut (one deadline for the whole
                                     download, connect to last byte), PhotoUnavailable (404...)
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

import httpx

from aircraftml.errors import (
    AircraftMLError,
    DuplicateContent,
    PermanentError,
    RateLimited,
    TransientError,
)
from aircraftml.platforms.answers import guarded, json_object, no_answer_error
from aircraftml.platforms.base import Post, ReplyImage
from aircraftml.platforms.http_deadline import within_deadline
from aircraftml.platforms.photos import PhotoFetcher
from aircraftml.platforms.transport import platform_transport
from aircraftml.platforms.x_auth import BearerToken, OAuth1
from aircraftml.platforms.x_fields import SERVED, LookupDialect, fallback
from aircraftml.platforms.x_text import MAX_WEIGHTED_LENGTH, weighted_length

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.x.com"
DEFAULT_MEDIA_HOSTS = ("pbs.twimg.com", "ton.twimg.com")
DUPLICATE_DETAIL = "You are not allowed to create a Tweet with duplicate content."
IMAGE_MIME_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_ALT_TEXT_CHARS = 1000
MAX_IMAGES = 4
RATE_LIMIT_FALLBACK_S = 60.0
RATE_LIMIT_RESET_MARGIN_S = 1.0
PHOTO_SIZE_SUFFIX = "format=jpg&name=large"
FIND_REPLY_PAGES = 5  # the bot's posts since the mention: 100 a page, newest first

__all__ = [
    "DEFAULT_MEDIA_HOSTS",
    "DUPLICATE_DETAIL",
    "BearerToken",
    "OAuth1",
    "XClient",
    "map_error",
    "weighted_length",
]


def map_error(
    problem: httpx.Response | Exception, what: str, now_epoch_s: float | None = None
) -> AircraftMLError:
    """The one place where X's statuses become AircraftML errors; no answer: ``no_answer_error``."""
    if isinstance(problem, httpx.Response):
        return _error_for_response(
            problem, what, time.time() if now_epoch_s is None else now_epoch_s
        )
    return no_answer_error(problem, what)


def _error_for_response(response: httpx.Response, what: str, now_epoch_s: float) -> AircraftMLError:
    status = response.status_code
    message = f"{what}: HTTP {status}: {_x_message(response)}"
    if status == 429:
        until = _rate_limit_reset_epoch_s(response.headers, now_epoch_s)
        return RateLimited(message, until_epoch_s=until)
    if status >= 500 or status == 408:
        return TransientError(message)
    if status == 403 and "duplicate content" in _x_message(response).lower():
        return DuplicateContent(message)
    return PermanentError(message)


def _rate_limit_reset_epoch_s(headers: httpx.Headers, now_epoch_s: float) -> float:
    """When the windows that refused us have reopened: the latest reset among the exhausted
    ones (15 min, 24 h user, 24 h app), plus a second, because X's resets are whole seconds
    rounded down and a retry on the second itself can still be refused; never in the past."""
    resets = []
    for prefix in ("x-rate-limit", "x-user-limit-24hour", "x-app-limit-24hour"):
        reset = _float_header(headers, f"{prefix}-reset")
        remaining = _float_header(headers, f"{prefix}-remaining")
        if reset is not None and (prefix == "x-rate-limit" or remaining == 0):
            resets.append(reset)
    if not resets:
        return now_epoch_s + RATE_LIMIT_FALLBACK_S
    return max(max(resets) + RATE_LIMIT_RESET_MARGIN_S, now_epoch_s + RATE_LIMIT_RESET_MARGIN_S)


def _float_header(headers: httpx.Headers, name: str) -> float | None:
    try:
        return float(headers[name])
    except (KeyError, ValueError):
        return None


def _x_message(response: httpx.Response) -> str:
    """X's own words: the first ``errors[].message``, else ``detail``, else the body."""
    try:
        body = json.loads(response.content)
    except httpx.ResponseNotRead:  # a streamed answer (photo): its body is not read
        return response.reason_phrase
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("message") or errors[0].get("detail") or errors[0])
        if isinstance(body.get("detail"), str):
            return str(body["detail"])
        if isinstance(body.get("title"), str):
            return str(body["title"])
    return response.text[:200]


class XClient:
    """The X adapter: ``fetch_post``, ``download_photo``, ``upload_image``, ``set_alt_text``,
    ``post_reply`` and ``find_reply`` (which needs ``bot_user_id``).

    ``media_hosts`` are the only hosts photos are downloaded from (pass the fake's host in
    tests and demos). Photos must come over https unless ``allow_insecure_media_for_testing``
    is set, which only the local fake needs.
    """

    name = "x"

    def __init__(
        self,
        auth: httpx.Auth,
        *,
        base_url: str = DEFAULT_BASE_URL,
        media_hosts: Sequence[str] = DEFAULT_MEDIA_HOSTS,
        photo_max_bytes: int = 10 * 1024 * 1024,
        photo_timeout_s: float = 15.0,
        max_redirects: int = 3,
        timeout_s: float = 15.0,
        chunked_upload_above_bytes: int = 1024 * 1024,
        chunk_bytes: int = 1024 * 1024,
        allow_insecure_media_for_testing: bool = False,
        bot_user_id: str | None = None,
        lookup_dialect: LookupDialect = SERVED,
        media_processing_timeout_s: float = 60.0,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url,
            auth=auth,
            timeout=timeout_s,
            follow_redirects=False,
            transport=platform_transport(self.name, transport),
            headers={"User-Agent": "aircraftml"},
        )
        self._photos = PhotoFetcher(
            self._http,
            media_hosts=media_hosts,
            map_error=map_error,
            host_kind="an X media host",
            max_bytes=photo_max_bytes,
            timeout_s=photo_timeout_s,
            max_redirects=max_redirects,
            allow_insecure_for_testing=allow_insecure_media_for_testing,
            clock=clock,
        )
        self._timeout_s = timeout_s
        self._chunked_above_bytes = chunked_upload_above_bytes
        self._chunk_bytes = chunk_bytes
        self._bot_user_id = bot_user_id
        self._clock = clock
        self._dialect = lookup_dialect
        self._processing_timeout_s = media_processing_timeout_s
        self._sleep = sleep
        if allow_insecure_media_for_testing:
            logger.warning("x client: plain-http media allowed (testing only)")

    def __enter__(self) -> XClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- reading ----------------------------------------------------------------------

    def fetch_post(self, post_id: str) -> Post:
        """The post with its photos (URLs of the large size), author and parent id.

        The query is in ``lookup_dialect`` (``x_fields``); when X refuses its names with a
        400, the other dialect is tried once and kept for the next lookups.
        """
        what = f"fetch post {post_id}"
        response = self._send("GET", f"/2/tweets/{post_id}", what, params=self._dialect.params())
        other = fallback(self._dialect, response.status_code, _x_message(response))
        if other is not None:
            logger.warning("x refused the %s; looking posts up with the %s", self._dialect.name,
                           other.name)  # fmt: skip
            self._dialect = other
            response = self._send("GET", f"/2/tweets/{post_id}", what, params=other.params())
        body = self._json(response, what)
        data = body.get("data")
        if not isinstance(data, dict):
            raise PermanentError(f"fetch post {post_id}: not found: {_first_error(body)}")
        try:
            return _post_from_v2(data, body.get("includes") or {})
        except (KeyError, TypeError, ValueError) as exc:
            raise PermanentError(f"fetch post {post_id}: unexpected response: {exc}") from exc

    def me(self) -> tuple[str, str]:
        """Whose credentials these are: ``(user id, handle)`` from ``GET /2/users/me``."""
        body = self._call("GET", "/2/users/me", "check credentials")
        data = _data(body, "check credentials")
        return str(data["id"]), str(data.get("username", ""))

    def download_photo(self, url: str) -> bytes:
        """The photo's bytes, within the host, size, time and redirect limits (``photos``);
        ``photo_timeout_s`` bounds the whole download, every redirect, connect and byte."""
        return self._photos.download(url)

    def find_reply(self, in_reply_to_id: str) -> str | None:
        """The id of the bot's own reply to ``in_reply_to_id``, if X has one.

        Reads the bot's timeline since that post (``GET /2/users/:id/tweets``, newest first,
        up to ``FIND_REPLY_PAGES`` pages of 100): what X itself recorded, so it also finds a
        reply whose posting was never recorded here (a crash, a timeout after X took it).
        """
        if self._bot_user_id is None:
            raise PermanentError("find reply: the X client was not given the bot's user id")
        params: dict[str, str] = {
            "since_id": in_reply_to_id,
            "max_results": "100",
            **self._dialect.references_params(),
        }
        path, what = f"/2/users/{self._bot_user_id}/tweets", f"find reply to {in_reply_to_id}"
        for _page in range(FIND_REPLY_PAGES):
            body = self._call("GET", path, what, params=params)
            found = _reply_among(body.get("data") or [], in_reply_to_id)
            next_token = (body.get("meta") or {}).get("next_token")
            if found is not None or not next_token:
                return found
            params["pagination_token"] = str(next_token)
        logger.info("x: no reply to %s in the bot's last %d pages", in_reply_to_id, _page + 1)
        return None

    # --- writing ----------------------------------------------------------------------

    def post_reply(self, in_reply_to_id: str, text: str, images: Sequence[ReplyImage]) -> str:
        """Upload the images, set their alt texts, then post the reply; the new post's id."""
        if len(images) > MAX_IMAGES:
            raise PermanentError(f"reply has {len(images)} images; X takes at most {MAX_IMAGES}")
        length = weighted_length(text)
        if length > MAX_WEIGHTED_LENGTH:
            raise PermanentError(f"reply is {length} weighted characters; X takes 280")
        media_ids = []
        for image in images:
            media_id = self.upload_image(image.data, image.mime_type)
            if image.alt_text:
                self.set_alt_text(media_id, image.alt_text)
            media_ids.append(media_id)
        payload: dict[str, Any] = {"text": text, "reply": {"in_reply_to_tweet_id": in_reply_to_id}}
        if media_ids:
            payload["media"] = {"media_ids": media_ids}
        body = self._call("POST", "/2/tweets", f"reply to {in_reply_to_id}", json=payload)
        reply_id = str(_data(body, "reply")["id"])
        logger.info(
            "x replied to %s with post %s (%d images)", in_reply_to_id, reply_id, len(media_ids)
        )
        return reply_id

    def upload_image(self, data: bytes, mime: str) -> str:
        """Upload one image (one request, or chunked above the threshold); its media id."""
        if mime not in IMAGE_MIME_TYPES:
            raise PermanentError(f"upload image: {mime} is not one of {sorted(IMAGE_MIME_TYPES)}")
        if not data or len(data) > MAX_IMAGE_BYTES:
            raise PermanentError(f"upload image: {len(data)} bytes; X takes 1..{MAX_IMAGE_BYTES}")
        if len(data) > self._chunked_above_bytes:
            return self._upload_chunked(data, mime)
        body = self._call(
            "POST",
            "/2/media/upload",
            "upload image",
            data={"media_category": "tweet_image"},
            files={"media": ("image", data, mime)},
        )
        return str(_data(body, "upload image")["id"])

    def set_alt_text(self, media_id: str, text: str) -> None:
        """Attach alt text to uploaded media (cut to X's 1,000 characters)."""
        if len(text) > MAX_ALT_TEXT_CHARS:
            logger.info("x alt text for %s cut from %d characters", media_id, len(text))
            text = text[: MAX_ALT_TEXT_CHARS - 1] + "…"
        payload = {"id": media_id, "metadata": {"alt_text": {"text": text}}}
        self._call("POST", "/2/media/metadata", f"alt text for {media_id}", json=payload)

    def _upload_chunked(self, data: bytes, mime: str) -> str:
        init = {"media_type": mime, "total_bytes": len(data), "media_category": "tweet_image"}
        body = self._call("POST", "/2/media/upload/initialize", "upload init", json=init)
        media_id = str(_data(body, "upload init")["id"])
        for index, start in enumerate(range(0, len(data), self._chunk_bytes)):
            chunk = data[start : start + self._chunk_bytes]
            self._call(
                "POST",
                f"/2/media/upload/{media_id}/append",
                f"upload append {index}",
                data={"segment_index": str(index)},
                files={"media": ("chunk", chunk, "application/octet-stream")},
            )
        body = self._call("POST", f"/2/media/upload/{media_id}/finalize", "upload finalize")
        self._wait_until_processed(media_id, _data(body, "upload finalize"))
        return media_id

    def _wait_until_processed(self, media_id: str, data: Mapping[str, Any]) -> None:
        """Poll ``STATUS`` while X says the media is pending or in progress (FINALIZE may
        answer ``processing_info``); a post naming unprocessed media is refused."""
        deadline = self._clock() + self._processing_timeout_s
        while True:
            info = data.get("processing_info") or {}
            state = info.get("state", "succeeded")
            if state == "succeeded":
                return
            if state == "failed":
                error = (info.get("error") or {}).get("message", "no reason given")
                raise PermanentError(f"upload: X could not process media {media_id}: {error}")
            wait_s = max(float(info.get("check_after_secs") or 1), 0.0)
            if self._clock() + wait_s > deadline:
                raise TransientError(f"upload: media {media_id} still {state} after "
                                     f"{self._processing_timeout_s} s")  # fmt: skip
            self._sleep(wait_s)
            params = {"command": "STATUS", "media_id": media_id}
            body = self._call("GET", "/2/media/upload", "upload status", params=params)
            data = _data(body, "upload status")

    # --- plumbing ---------------------------------------------------------------------

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> dict[str, Any]:
        """One API request; errors mapped, JSON object returned."""
        return self._json(self._send(method, path, what, **kwargs), what)

    def _send(self, method: str, path: str, what: str, **kwargs: Any) -> httpx.Response:
        with self._guarded(what), within_deadline(self._timeout_s):
            return self._http.request(method, path, **kwargs)

    def _json(self, response: httpx.Response, what: str) -> dict[str, Any]:
        return json_object(response, what, map_error, empty_ok=True)

    def _guarded(self, what: str) -> AbstractContextManager[None]:
        return guarded(what, map_error)


def _data(body: Mapping[str, Any], what: str) -> dict[str, Any]:
    data = body.get("data")
    if not isinstance(data, dict) or "id" not in data:
        raise TransientError(f"{what}: response without data.id: {_first_error(body)}")
    return data


def _reply_among(posts: Sequence[Any], in_reply_to_id: str) -> str | None:
    for post in posts:
        if not isinstance(post, dict):
            continue
        for ref in post.get("referenced_tweets") or post.get("referenced_posts") or []:
            if ref.get("type") == "replied_to" and str(ref.get("id")) == in_reply_to_id:
                return str(post["id"])
    return None


def _first_error(body: Mapping[str, Any]) -> str:
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("detail") or errors[0].get("message") or errors[0])
    return "no data in the response"


def _post_from_v2(data: Mapping[str, Any], includes: Mapping[str, Any]) -> Post:
    author_id = str(data["author_id"])
    users = {str(u["id"]): str(u["username"]) for u in includes.get("users") or []}
    media = {m["media_key"]: m for m in includes.get("media") or []}
    keys = (data.get("attachments") or {}).get("media_keys") or []
    photos = tuple(
        _large(media[key]["url"])
        for key in keys
        if key in media and media[key].get("type") == "photo" and media[key].get("url")
    )
    references = data.get("referenced_tweets") or data.get("referenced_posts") or []
    parent = next((str(r["id"]) for r in references if r.get("type") == "replied_to"), None)
    note = data.get("note_tweet") or data.get("note_post") or {}
    return Post(
        id=str(data["id"]),
        author_id=author_id,
        author_handle=users.get(author_id, ""),
        text=str(note.get("text") or data.get("text", "")),
        photo_urls=photos[:MAX_IMAGES],
        in_reply_to_id=parent,
    )


def _large(url: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{PHOTO_SIZE_SUFFIX}"
