"""The Bluesky adapter: read mentions and posts over XRPC, reply with annotated photos.

A narrow httpx client rather than the ``atproto`` SDK: the SDK validates every response
against pydantic models of the whole lexicon (slow to import in each worker, and a field the
server adds can break a model), refreshes sessions on its own timer from the JWT's expiry,
and raises its own exception types whose status and rate-limit headers are buried in a
response object; the handler needs ``RateLimited(until)`` it can share with every worker and
one place where statuses become our errors. The bot uses eight XRPC methods.

Every failure is mapped onto ``aircraftml.errors`` in :func:`map_error`, and nowhere else:

    429                               -> RateLimited(until = ratelimit-reset + 1 s, or now + 60 s)
    5xx, 408, timeouts, dropped links -> TransientError
    400 "already exists" on create    -> DuplicateContent (our reply's record key is taken:
                                         the reply exists; the handler looks it up)
    400 ExpiredToken                  -> refreshSession, then the call again (here, once)
    401, other 4xx                    -> PermanentError (with Bluesky's ``error: message``)
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

import httpx
from PIL import Image

from aircraftml.errors import (
    AircraftMLError,
    DuplicateContent,
    PermanentError,
    RateLimited,
    TransientError,
)
from aircraftml.platforms.answers import guarded, json_object, no_answer_error
from aircraftml.platforms.base import Post, ReplyImage
from aircraftml.platforms.bluesky import text as bluesky_text
from aircraftml.platforms.photos import PhotoFetcher
from aircraftml.platforms.transport import platform_transport

logger = logging.getLogger(__name__)

DEFAULT_SERVICE = "https://bsky.social"
DEFAULT_MEDIA_HOSTS = ("cdn.bsky.app",)
MAX_BLOB_BYTES = 1_000_000
MAX_IMAGES = 4
MAX_ALT_CHARS = 2000
RATE_LIMIT_FALLBACK_S = 60.0
RATE_LIMIT_RESET_MARGIN_S = 1.0
NOTIFICATIONS_PAGE = 50
MAX_NOTIFICATION_PAGES = 20
POST = "app.bsky.feed.post"


def map_error(
    problem: httpx.Response | Exception, what: str, now_epoch_s: float | None = None
) -> AircraftMLError:
    """The one place where Bluesky's statuses become our errors; no answer: ``no_answer_error``."""
    now = time.time() if now_epoch_s is None else now_epoch_s
    if isinstance(problem, httpx.Response):
        status = problem.status_code
        error, message = _xrpc_error(problem)
        text = f"{what}: HTTP {status}: {error}: {message}"
        if status == 429:
            return RateLimited(text, until_epoch_s=_reset_epoch_s(problem.headers, now))
        if status >= 500 or status == 408:
            return TransientError(text)
        if status == 400 and "already exists" in message.lower():
            return DuplicateContent(text)
        return PermanentError(text)
    return no_answer_error(problem, what)


def _reset_epoch_s(headers: httpx.Headers, now_epoch_s: float) -> float:
    try:
        reset = float(headers["ratelimit-reset"])
    except (KeyError, ValueError):
        return now_epoch_s + RATE_LIMIT_FALLBACK_S
    return max(reset, now_epoch_s) + RATE_LIMIT_RESET_MARGIN_S


def _xrpc_error(response: httpx.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except (ValueError, httpx.ResponseNotRead):
        return response.reason_phrase, ""
    if isinstance(body, dict):
        return str(body.get("error", "")), str(body.get("message", ""))
    return response.reason_phrase, ""


class BlueskyClient:
    """The Bluesky adapter (``Platform``), plus ``notifications`` for the poller and
    ``mark_as_bot`` (the ``bot`` self-label on the profile) for the start-up checks.
    Post ids are ``at://`` URIs."""

    name = "bluesky"

    def __init__(
        self,
        identifier: str,
        app_password: str,
        *,
        service_url: str = DEFAULT_SERVICE,
        media_hosts: Sequence[str] = DEFAULT_MEDIA_HOSTS,
        photo_max_bytes: int = 15_000_000,
        photo_timeout_s: float = 15.0,
        timeout_s: float = 15.0,
        allow_insecure_media_for_testing: bool = False,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = httpx.Client(
            base_url=service_url,
            headers={"User-Agent": "aircraftml"},
            timeout=timeout_s,
            follow_redirects=False,
            transport=platform_transport(self.name, transport),
        )
        self._photos = PhotoFetcher(
            self._http,
            media_hosts=media_hosts,
            map_error=map_error,
            host_kind="a Bluesky media host",
            max_bytes=photo_max_bytes,
            timeout_s=photo_timeout_s,
            allow_insecure_for_testing=allow_insecure_media_for_testing,
            clock=clock,
        )
        self._identifier = identifier
        self._password = app_password
        self._session: dict[str, Any] | None = None

    def close(self) -> None:
        self._http.close()

    # --- the session ---------------------------------------------------------------------

    def login(self) -> dict[str, Any]:
        """``createSession`` with the app password; a PermanentError if it is refused."""
        if self._session is None:
            body = {"identifier": self._identifier, "password": self._password}
            self._session = self._send("POST", "com.atproto.server.createSession", json=body)
        return self._session

    @property
    def did(self) -> str:
        return str(self.login()["did"])

    def _refresh(self) -> None:
        refresh_jwt = self.login()["refreshJwt"]
        try:
            self._session = self._send(
                "POST", "com.atproto.server.refreshSession", token=str(refresh_jwt)
            )
        except PermanentError:  # the refresh token expired too: a new session
            self._session = None
            self.login()

    def mark_as_bot(self) -> bool:
        """Give the profile the ``bot`` self-label; True if it had to be added."""
        params = {"repo": self.did, "collection": "app.bsky.actor.profile", "rkey": "self"}
        try:
            profile = dict(self._call("GET", "com.atproto.repo.getRecord", params=params)["value"])
        except PermanentError as exc:
            if "RecordNotFound" not in str(exc):
                raise
            profile = {"$type": "app.bsky.actor.profile"}
        labels = profile.get("labels") or {}
        values = list(labels.get("values") or [])
        if any(v.get("val") == "bot" for v in values):
            return False
        values.append({"val": "bot"})
        profile["labels"] = {"$type": "com.atproto.label.defs#selfLabels", "values": values}
        self._call("POST", "com.atproto.repo.putRecord", json={**params, "record": profile})
        logger.info("bluesky: account %s labelled as a bot", self.did)
        return True

    # --- reading -------------------------------------------------------------------------

    def notifications(self, after_indexed_at: str | None) -> list[dict[str, Any]]:
        """Notifications indexed at or after ``after_indexed_at``, oldest first (the list is
        newest first; pages are read until one reaches the cursor)."""
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        for _page in range(MAX_NOTIFICATION_PAGES):
            params = {"limit": str(NOTIFICATIONS_PAGE)}
            if cursor:
                params["cursor"] = cursor
            body = self._call("GET", "app.bsky.notification.listNotifications", params=params)
            page = [n for n in body.get("notifications") or [] if isinstance(n, dict)]
            fresh = [n for n in page if not after_indexed_at or n["indexedAt"] >= after_indexed_at]
            found.extend(fresh)
            cursor = body.get("cursor")
            if len(fresh) < len(page) or not page or not cursor:
                break
        found.reverse()
        return found

    def post_view(self, uri: str) -> dict[str, Any]:
        posts = self._call("GET", "app.bsky.feed.getPosts", params={"uris": uri}).get("posts")
        if not posts:
            raise PermanentError(f"post {uri}: not found")
        return dict(posts[0])

    def fetch_post(self, post_id: str) -> Post:
        return post_from_view(self.post_view(post_id))

    def download_photo(self, url: str) -> bytes:
        return self._photos.download(url)

    def find_reply(self, in_reply_to_id: str) -> str | None:
        """Our reply at the record key derived from the mention, if it replies to it."""
        params = {
            "repo": self.did,
            "collection": POST,
            "rkey": bluesky_text.reply_rkey(in_reply_to_id),
        }
        try:
            body = self._call("GET", "com.atproto.repo.getRecord", params=params)
        except PermanentError as exc:
            if "RecordNotFound" in str(exc):
                return None
            raise
        parent = ((body.get("value") or {}).get("reply") or {}).get("parent") or {}
        return str(body["uri"]) if parent.get("uri") == in_reply_to_id else None

    # --- writing -------------------------------------------------------------------------

    def post_reply(self, in_reply_to_id: str, text: str, images: Sequence[ReplyImage]) -> str:
        """Upload the images (each under 1,000,000 bytes), then create the reply record at
        the record key derived from the mention, with root and parent references and a
        mention facet for the author."""
        if (count := bluesky_text.graphemes(text)) > bluesky_text.MAX_GRAPHEMES:
            raise PermanentError(f"reply is {count} graphemes; Bluesky takes 300")
        mention = self.post_view(in_reply_to_id)
        parent = {"uri": mention["uri"], "cid": mention["cid"]}
        root = ((mention.get("record") or {}).get("reply") or {}).get("root") or parent
        author = mention.get("author") or {}
        record: dict[str, Any] = {
            "$type": POST,
            "text": text,
            "createdAt": datetime.now(UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "reply": {"root": root, "parent": parent},
            "facets": bluesky_text.mention_facets(
                text, str(author.get("handle", "")), str(author.get("did", ""))
            ),
        }
        if images:
            record["embed"] = {
                "$type": "app.bsky.embed.images",
                "images": [self._embed_image(image) for image in images[:MAX_IMAGES]],
            }
        body = {
            "repo": self.did,
            "collection": POST,
            "rkey": bluesky_text.reply_rkey(in_reply_to_id),
            "record": record,
        }
        created = self._call("POST", "com.atproto.repo.createRecord", json=body)
        logger.info("bluesky replied to %s with %s", in_reply_to_id, created["uri"])
        return str(created["uri"])

    def _embed_image(self, image: ReplyImage) -> dict[str, Any]:
        data, mime, (width, height) = fit_blob(image.data, image.mime_type)
        blob = self._call(
            "POST", "com.atproto.repo.uploadBlob", content=data, headers={"Content-Type": mime}
        )["blob"]
        return {
            "image": blob,
            "alt": image.alt_text[:MAX_ALT_CHARS],
            "aspectRatio": {"width": width, "height": height},
        }

    # --- plumbing ------------------------------------------------------------------------

    def _call(self, method: str, nsid: str, **kwargs: Any) -> dict[str, Any]:
        """An authenticated XRPC call; an expired access token is refreshed once."""
        try:
            return self._send(method, nsid, token=str(self.login()["accessJwt"]), **kwargs)
        except _ExpiredToken:
            self._refresh()
            return self._send(method, nsid, token=str(self.login()["accessJwt"]), **kwargs)

    def _send(
        self, method: str, nsid: str, *, token: str | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        headers = dict(kwargs.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        with self._guarded(nsid):
            response = self._http.request(method, f"/xrpc/{nsid}", headers=headers, **kwargs)
        if response.status_code == 400 and _xrpc_error(response)[0] == "ExpiredToken":
            raise _ExpiredToken(nsid)
        return json_object(response, nsid, map_error)

    def _guarded(self, what: str) -> AbstractContextManager[None]:
        return guarded(what, map_error)


class _ExpiredToken(PermanentError):
    """The access token has expired: refresh the session (never leaves this module)."""


def fit_blob(data: bytes, mime: str) -> tuple[bytes, str, tuple[int, int]]:
    """The image within Bluesky's 1,000,000-byte blob limit (re-encoded as JPEG, smaller
    and smaller, when it is not), its type and its size in pixels (the aspect ratio)."""
    with Image.open(io.BytesIO(data)) as image:
        size = image.size
        if len(data) <= MAX_BLOB_BYTES:
            return data, mime, size
        picture = image.convert("RGB")
    for quality, scale in ((85, 1.0), (80, 0.75), (75, 0.5), (70, 0.35), (60, 0.25)):
        scaled = picture.resize((max(1, int(size[0] * scale)), max(1, int(size[1] * scale))))
        out = io.BytesIO()
        scaled.save(out, format="JPEG", quality=quality)
        if out.tell() <= MAX_BLOB_BYTES:
            return out.getvalue(), "image/jpeg", scaled.size
    raise PermanentError(f"image of {len(data)} bytes does not fit in {MAX_BLOB_BYTES} bytes")


def post_from_view(view: dict[str, Any]) -> Post:
    """A post view (``getPosts``) as the handler needs it: its images' fullsize URLs (also
    those of a quote with media), author and parent."""
    author = view.get("author") or {}
    record = view.get("record") or {}
    return Post(
        id=str(view["uri"]),
        author_id=str(author.get("did", "")),
        author_handle=str(author.get("handle", "")),
        text=str(record.get("text", "")),
        photo_urls=tuple(str(image["fullsize"]) for image in _images(view.get("embed"))),
        in_reply_to_id=((record.get("reply") or {}).get("parent") or {}).get("uri"),
    )


def _images(embed: Any) -> list[dict[str, Any]]:
    if not isinstance(embed, dict):
        return []
    kind = str(embed.get("$type", ""))
    if kind.startswith("app.bsky.embed.images"):
        return [i for i in embed.get("images") or [] if isinstance(i, dict) and i.get("fullsize")]
    if kind.startswith("app.bsky.embed.recordWithMedia"):
        return _images(embed.get("media"))
    return []
