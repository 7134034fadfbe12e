"""A faithful local fake of a Bluesky PDS + AppView's XRPC API; the real BlueskyClient
talks to it.

Same methods, auth, limits and error bodies (``{"error": "...", "message": "..."}``):
``com.atproto.server.createSession`` (app password) and ``refreshSession`` (access tokens
expire: 400 ExpiredToken), ``app.bsky.notification.listNotifications`` (newest first,
``cursor`` paging), ``app.bsky.feed.getPosts`` (image embeds as views with fullsize URLs),
``com.atproto.repo.uploadBlob`` (1,000,000 bytes at most: 400 BlobTooLarge),
``com.atproto.repo.createRecord`` (300 graphemes, reply refs, facets, images; a record key
already taken is refused), ``getRecord`` and ``putRecord`` (the profile's ``bot`` label);
``ratelimit-*`` headers and 429. Faults: 429, 500, 503, slow, dropped connections. Every
reply is recorded.

Differences from Bluesky: one server (no relay or AppView lag), made-up CIDs, media over
plain http, and the admin API under ``/_fake`` has no auth.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aircraftml.fakes.faults import FaultMiddleware
from aircraftml.fakes.network import FakeNetwork
from aircraftml.platforms.bluesky.text import new_tid
from aircraftml.platforms.fake_x_model import sniff_image_mime

POST = "app.bsky.feed.post"
PROFILE = "app.bsky.actor.profile"
MAX_BLOB_BYTES = 1_000_000
# (requests, window s) per account: every call, and sessions created
DEFAULT_RATE_LIMITS = {"api": (3000, 300.0), "session": (30, 300.0)}


class XrpcProblem(Exception):
    def __init__(
        self, status: int, error: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message
        self.headers = headers or {}


@dataclass(slots=True)
class FakeBskyAccount:
    did: str
    handle: str
    password: str
    description: str = ""
    labels: list[str] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        return {
            "did": self.did,
            "handle": self.handle,
            "description": self.description,
            "labels": [{"src": self.did, "uri": f"at://{self.did}", "val": v} for v in self.labels],
        }


@dataclass(slots=True)
class FakeRecord:
    uri: str
    cid: str
    value: dict[str, Any]
    indexed_at: str


@dataclass(frozen=True, slots=True)
class FakeBlueskyReply:
    uri: str
    rkey: str
    parent_uri: str
    root_uri: str
    text: str
    facets: tuple[dict[str, Any], ...]
    images: tuple[tuple[bytes, str, dict[str, int]], ...]  # data, alt, aspect ratio


@dataclass
class FakeBlueskyConfig:
    bot_handle: str = "aircraftml.bsky.social"
    bot_password: str = "fake-app-pass-word"
    access_ttl_s: float = 7200.0
    refresh_ttl_s: float = 90 * 86400.0
    on_reply: Callable[[FakeBlueskyReply], None] | None = None


@dataclass
class _State:
    accounts: dict[str, FakeBskyAccount] = field(default_factory=dict)  # by did
    records: dict[str, FakeRecord] = field(default_factory=dict)  # by uri
    blobs: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # by cid
    tokens: dict[str, tuple[str, str, float]] = field(default_factory=dict)  # kind, did, exp
    notifications: list[tuple[str, str, str]] = field(default_factory=list)  # uri, reason, did
    replies: list[FakeBlueskyReply] = field(default_factory=list)


class FakeBluesky(FakeNetwork):
    def __init__(
        self, config: FakeBlueskyConfig | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(clock, DEFAULT_RATE_LIMITS)
        self.config = config or FakeBlueskyConfig()
        self._clock_ids = itertools.count()
        self._state = _State()
        self.bot = self.account(self.config.bot_handle, password=self.config.bot_password)
        from aircraftml.fakes import bluesky_routes

        self.app = FaultMiddleware(bluesky_routes.app(self), self.faults, _error_body, clock)

    # --- the Python API for tests and demos ----------------------------------------------

    def bot_environ(self, base_url: str) -> dict[str, str]:
        return {
            "AIRCRAFTML_NETWORKS": "bluesky",
            "AIRCRAFTML_BLUESKY_SERVICE_URL": base_url,
            "AIRCRAFTML_BLUESKY_HANDLE": self.config.bot_handle,
            "AIRCRAFTML_BLUESKY_APP_PASSWORD": self.config.bot_password,
            "AIRCRAFTML_BLUESKY_MEDIA_HOSTS": "127.0.0.1",
            "AIRCRAFTML_ALLOW_INSECURE_MEDIA_FOR_TESTING": "true",
        }

    def account(
        self,
        handle: str,
        *,
        password: str | None = None,
        bot: bool = False,
        description: str = "",
    ) -> FakeBskyAccount:
        with self._lock:
            for account in self._state.accounts.values():
                if account.handle == handle:
                    break
            else:
                did = "did:plc:" + hashlib.sha256(handle.encode()).hexdigest()[:24]
                account = FakeBskyAccount(did, handle, password or secrets.token_urlsafe(12))
                self._state.accounts[did] = account
            if bot and "bot" not in account.labels:
                account.labels.append("bot")
            account.description = description or account.description
            return account

    def create_post(
        self,
        handle: str,
        text: str,
        photos: Sequence[bytes] = (),
        *,
        reply_to: str | None = None,
        bot: bool = False,
        description: str = "",
    ) -> str:
        """A post by ``handle`` (created on first use); mentioning the bot or replying to
        one of its posts notifies it. Returns the post's ``at://`` URI."""
        with self._lock:
            author = self.account(handle, bot=bot, description=description)
            record: dict[str, Any] = {"$type": POST, "text": text, "createdAt": self.now_iso()}
            if photos:
                record["embed"] = {
                    "$type": "app.bsky.embed.images",
                    "images": [{"image": self.store_blob(p), "alt": ""} for p in photos],
                }
            if reply_to is not None:
                parent = self._state.records[reply_to]
                root = (parent.value.get("reply") or {}).get("root") or {
                    "uri": parent.uri,
                    "cid": parent.cid,
                }
                record["reply"] = {"root": root, "parent": {"uri": parent.uri, "cid": parent.cid}}
            return self.put(author, POST, self.next_rkey(), record).uri

    mention = create_post

    def delete_post(self, uri: str) -> None:
        with self._lock:
            del self._state.records[uri]

    @property
    def replies(self) -> list[FakeBlueskyReply]:
        with self._lock:
            return list(self._state.replies)

    def replies_to(self, uri: str) -> list[FakeBlueskyReply]:
        return [r for r in self.replies if r.parent_uri == uri]

    # --- model (the routes use these) ----------------------------------------------------

    def now_iso(self) -> str:
        return datetime.fromtimestamp(self._clock(), UTC).isoformat(timespec="microseconds")

    def next_rkey(self) -> str:
        return new_tid(self._clock(), next(self._clock_ids) % 1024)

    def store_blob(self, data: bytes) -> dict[str, Any]:
        mime = sniff_image_mime(data) or "application/octet-stream"
        cid = "bafkrei" + hashlib.sha256(data).hexdigest()[:40]
        self._state.blobs[cid] = (data, mime)
        return {"$type": "blob", "ref": {"$link": cid}, "mimeType": mime, "size": len(data)}

    def put(
        self, author: FakeBskyAccount, collection: str, rkey: str, value: dict[str, Any]
    ) -> FakeRecord:
        uri = f"at://{author.did}/{collection}/{rkey}"
        cid = "bafyrei" + hashlib.sha256(repr(sorted(value.items())).encode()).hexdigest()[:40]
        record = FakeRecord(uri, cid, value, self.now_iso())
        self._state.records[uri] = record
        if collection == POST and author.did != self.bot.did:
            reason = self._reason(value)
            if reason is not None:
                self._state.notifications.append((uri, reason, author.did))
        return record

    def _reason(self, value: dict[str, Any]) -> str | None:
        if f"@{self.bot.handle}" in str(value.get("text", "")):
            return "mention"
        parent = ((value.get("reply") or {}).get("parent") or {}).get("uri", "")
        if str(parent).startswith(f"at://{self.bot.did}/"):
            return "reply"
        return None

    def post_view(self, record: FakeRecord) -> dict[str, Any]:
        did = record.uri.split("/")[2]
        view: dict[str, Any] = {
            "uri": record.uri,
            "cid": record.cid,
            "author": self._state.accounts[did].view(),
            "record": record.value,
            "indexedAt": record.indexed_at,
        }
        embed = record.value.get("embed") or {}
        if embed.get("$type") == "app.bsky.embed.images":
            view["embed"] = {
                "$type": "app.bsky.embed.images#view",
                "images": [self._image_view(did, image) for image in embed.get("images", [])],
            }
        return view

    def _image_view(self, did: str, image: dict[str, Any]) -> dict[str, Any]:
        cid = image["image"]["ref"]["$link"]
        url = f"{self.base_url}/img/feed_fullsize/plain/{did}/{cid}@jpeg"
        return {"thumb": url, "fullsize": url, "alt": image.get("alt", "")}

    def issue_tokens(self, did: str) -> dict[str, str]:
        now = self._clock()
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self._state.tokens[access] = ("access", did, now + self.config.access_ttl_s)
        self._state.tokens[refresh] = ("refresh", did, now + self.config.refresh_ttl_s)
        handle = self._state.accounts[did].handle
        return {"accessJwt": access, "refreshJwt": refresh, "did": did, "handle": handle}

    def take_rate_limit(self, did: str, group: str) -> dict[str, str]:
        """Count one call against ``group``; the ratelimit-* headers, or a 429."""
        window, allowed = self.count_call(did, group)
        headers = {
            "ratelimit-limit": str(window.limit),
            "ratelimit-remaining": str(window.remaining),
            "ratelimit-reset": str(int(window.resets_at)),
            "ratelimit-policy": f"{window.limit};w={int(window.window_s)}",
        }
        if not allowed:
            raise XrpcProblem(429, "RateLimitExceeded", "Rate Limit Exceeded", headers)
        return headers

    @property
    def state(self) -> _State:
        return self._state


def _error_body(
    status: int, now: float, reset_after_s: float
) -> tuple[dict[str, Any], dict[str, str]]:
    if status == 429:
        headers = {
            "ratelimit-limit": "3000",
            "ratelimit-remaining": "0",
            "ratelimit-reset": str(int(now + reset_after_s)),
        }
        return {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}, headers
    return {"error": "InternalServerError", "message": "Internal Server Error"}, {}
