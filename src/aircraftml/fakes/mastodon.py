"""A faithful local fake of a Mastodon instance's API; the real MastodonClient talks to it.

Same endpoints, auth, limits and error bodies as Mastodon 4 (``{"error": "..."}``):
``verify_credentials``, ``update_credentials`` (the bot flag), ``/api/v2/instance``
(characters, media), ``/api/v1/notifications`` (``types[]``, ``min_id``, ``since_id``,
``max_id``, ``limit`` up to 40, newest first), statuses (get, ``/context``, post with
``in_reply_to_id``, ``visibility``, ``media_ids``, and ``Idempotency-Key``: the first
answer to a key is given again for an hour), ``POST /api/v2/media`` (202 while processing;
``GET /api/v1/media/:id`` 206 until done; attaching unprocessed media is a 422), photo
hosting at ``/system/media/<id>.jpg``; bearer tokens; ``X-RateLimit-*`` headers and 429
(Mastodon's 300 requests per 5 minutes per account; media 30 per 30 minutes). Faults: 429,
500, 503, slow, dropped connections. Every reply is recorded.

Differences from Mastodon: one local instance (no federation), media over plain http, and
the admin API under ``/_fake`` has no auth.

    fake = FakeMastodon()
    with FakeServer(fake.app) as server:
        fake.set_public_base_url(server.base_url)
        fake.mention("alice", "@aircraftml what is this?", photos=[jpeg_bytes])
        fake.replies
"""

from __future__ import annotations

import base64
import itertools
import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request

from aircraftml.fakes.faults import FaultMiddleware
from aircraftml.fakes.network import FakeNetwork
from aircraftml.platforms.fake_x_model import sniff_image_mime

MAX_CHARACTERS = 500
MAX_MEDIA_ATTACHMENTS = 4
IMAGE_SIZE_LIMIT = 16 * 1024 * 1024
IDEMPOTENCY_KEEP_S = 3600.0
VISIBILITIES = ("public", "unlisted", "private", "direct")
# Mastodon's own limits: (requests, window s) for every authenticated call, and for media
DEFAULT_RATE_LIMITS = {"api": (300, 300.0), "media": (30, 1800.0)}


class MastodonProblem(Exception):
    def __init__(self, status: int, error: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.headers = headers or {}


@dataclass(slots=True)
class FakeAccount:
    id: str
    username: str
    token: str
    bot: bool = False
    note: str = ""

    def json(self, base_url: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "acct": self.username,
            "display_name": self.username,
            "bot": self.bot,
            "note": f"<p>{self.note}</p>" if self.note else "",
            "url": f"{base_url}/@{self.username}",
        }


@dataclass(slots=True)
class FakeMedia:
    id: str
    owner_id: str
    data: bytes
    mime: str
    description: str
    ready_at: float


@dataclass(slots=True)
class FakeStatus:
    id: str
    account_id: str
    text: str
    visibility: str
    created_at: float
    in_reply_to_id: str | None = None
    media_ids: tuple[str, ...] = ()
    mentioned_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FakeMastodonReply:
    """A status the bot posted, as recorded by the fake."""

    id: str
    in_reply_to_id: str | None
    text: str
    visibility: str
    media: tuple[FakeMedia, ...]
    idempotency_key: str | None


@dataclass
class FakeMastodonConfig:
    bot_username: str = "aircraftml"
    bot_token: str = "fake-mastodon-bot-token"
    bot_flag: bool = False  # the account starts unmarked; the bot marks itself
    max_characters: int = MAX_CHARACTERS
    media_processing_s: float = 0.0  # > 0: uploads answer 202 and take this long
    # called with each reply as it is recorded, before it is answered (tests kill a worker here)
    on_reply: Callable[[FakeMastodonReply], None] | None = None


@dataclass
class _State:
    accounts: dict[str, FakeAccount] = field(default_factory=dict)  # by id
    statuses: dict[str, FakeStatus] = field(default_factory=dict)
    media: dict[str, FakeMedia] = field(default_factory=dict)
    notifications: list[tuple[str, str, str]] = field(default_factory=list)  # id, acct, status
    idempotency: dict[tuple[str, str], tuple[float, dict[str, Any]]] = field(default_factory=dict)
    replies: list[FakeMastodonReply] = field(default_factory=list)


class FakeMastodon(FakeNetwork):
    def __init__(
        self, config: FakeMastodonConfig | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(clock, DEFAULT_RATE_LIMITS)
        self.config = config or FakeMastodonConfig()
        self._ids = itertools.count(int(clock() * 1000) << 16)
        self._state = _State()
        self.bot = self._new_account(self.config.bot_username, self.config.bot_token)
        self.bot.bot = self.config.bot_flag
        self.app = FaultMiddleware(self._build_app(), self.faults, _error_body, clock)

    # --- the Python API for tests and demos ----------------------------------------------

    def bot_environ(self, base_url: str) -> dict[str, str]:
        """The settings that point a bot at this fake."""
        return {
            "AIRCRAFTML_NETWORKS": "mastodon",
            "AIRCRAFTML_MASTODON_BASE_URL": base_url,
            "AIRCRAFTML_MASTODON_ACCESS_TOKEN": self.config.bot_token,
            "AIRCRAFTML_ALLOW_INSECURE_MEDIA_FOR_TESTING": "true",
        }

    def account(self, username: str, *, bot: bool = False, note: str = "") -> FakeAccount:
        with self._lock:
            for account in self._state.accounts.values():
                if account.username == username:
                    account.bot, account.note = bot, note or account.note
                    return account
            account = self._new_account(username, secrets.token_urlsafe(16))
            account.bot, account.note = bot, note
            return account

    def create_status(
        self,
        username: str,
        text: str,
        photos: Sequence[bytes] = (),
        *,
        visibility: str = "public",
        in_reply_to_id: str | None = None,
        alt_texts: Sequence[str] = (),
        bot: bool = False,
        note: str = "",
    ) -> str:
        """A status by ``username`` (created on first use); a mention of the bot notifies it."""
        with self._lock:
            author = self.account(username, bot=bot, note=note)
            media_ids = tuple(
                self._store_media(author.id, data, alt, ready_at=0.0).id
                for data, alt in itertools.zip_longest(photos, alt_texts[: len(photos)])
                if data is not None
            )
            return self._new_status(author, text, visibility, in_reply_to_id, media_ids).id

    mention = create_status

    @property
    def replies(self) -> list[FakeMastodonReply]:
        with self._lock:
            return list(self._state.replies)

    def replies_to(self, status_id: str) -> list[FakeMastodonReply]:
        return [r for r in self.replies if r.in_reply_to_id == status_id]

    def delete_status(self, status_id: str) -> None:
        with self._lock:
            del self._state.statuses[status_id]
            self._state.notifications = [n for n in self._state.notifications if n[2] != status_id]

    def status(self, status_id: str) -> FakeStatus:
        with self._lock:
            return self._state.statuses[status_id]

    # --- model ---------------------------------------------------------------------------

    def _next_id(self) -> str:
        return str(next(self._ids))

    def _new_account(self, username: str, token: str) -> FakeAccount:
        account = FakeAccount(self._next_id(), username, token)
        self._state.accounts[account.id] = account
        return account

    def _store_media(
        self, owner_id: str, data: bytes, alt: str | None, ready_at: float
    ) -> FakeMedia:
        mime = sniff_image_mime(data) or "application/octet-stream"
        media = FakeMedia(self._next_id(), owner_id, data, mime, alt or "", ready_at)
        self._state.media[media.id] = media
        return media

    def _new_status(
        self,
        author: FakeAccount,
        text: str,
        visibility: str,
        in_reply_to_id: str | None,
        media_ids: tuple[str, ...],
    ) -> FakeStatus:
        mentioned = tuple(
            account.id
            for name in re.findall(r"(?<![\w@])@(\w+)", text)
            for account in self._state.accounts.values()
            if account.username == name
        )
        status = FakeStatus(
            self._next_id(),
            author.id,
            text,
            visibility,
            self._clock(),
            in_reply_to_id,
            media_ids,
            mentioned,
        )
        self._state.statuses[status.id] = status
        if self.bot.id in mentioned and author.id != self.bot.id:
            self._state.notifications.append((self._next_id(), author.id, status.id))
        return status

    def _status_json(self, status: FakeStatus) -> dict[str, Any]:
        account = self._state.accounts[status.account_id]
        return {
            "id": status.id,
            "created_at": iso_time(status.created_at),
            "in_reply_to_id": status.in_reply_to_id,
            "in_reply_to_account_id": (
                self._state.statuses[status.in_reply_to_id].account_id
                if status.in_reply_to_id in self._state.statuses
                else None
            ),
            "visibility": status.visibility,
            "content": "<p>" + _escape(status.text) + "</p>",
            "account": account.json(self.base_url),
            "media_attachments": [self._media_json(self._state.media[m]) for m in status.media_ids],
            "mentions": [
                {"id": a, "acct": self._state.accounts[a].username} for a in status.mentioned_ids
            ],
        }

    def _media_json(self, media: FakeMedia) -> dict[str, Any]:
        ready = self._clock() >= media.ready_at
        return {
            "id": media.id,
            "type": "image",
            "url": f"{self.base_url}/system/media/{media.id}.jpg" if ready else None,
            "preview_url": f"{self.base_url}/system/media/{media.id}.jpg",
            "description": media.description or None,
        }

    def _can_see(self, account: FakeAccount, status: FakeStatus) -> bool:
        if status.visibility in ("public", "unlisted") or status.account_id == account.id:
            return True
        return account.id in status.mentioned_ids

    # --- HTTP ----------------------------------------------------------------------------

    def _build_app(self) -> Starlette:
        from aircraftml.fakes import mastodon_routes

        return Starlette(routes=mastodon_routes.routes(self))

    def authenticate(self, request: Request) -> FakeAccount:
        header = request.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else ""
        with self._lock:
            for account in self._state.accounts.values():
                if token and secrets.compare_digest(account.token, token):
                    return account
        raise MastodonProblem(401, "The access token is invalid")

    def take_rate_limit(self, account: FakeAccount, group: str) -> dict[str, str]:
        """Count one request against ``group`` (``api``: every authenticated call, ``media``:
        uploads); the X-RateLimit-* headers, or a 429."""
        window, allowed = self.count_call(account.id, group)
        headers = {
            "X-RateLimit-Limit": str(window.limit),
            "X-RateLimit-Remaining": str(window.remaining),
            "X-RateLimit-Reset": iso_time(window.resets_at),
        }
        if not allowed:
            raise MastodonProblem(429, "Too many requests", headers)
        return headers

    @property
    def state(self) -> _State:
        return self._state


def reply_json(reply: FakeMastodonReply) -> dict[str, Any]:
    return {
        "id": reply.id,
        "in_reply_to_id": reply.in_reply_to_id,
        "text": reply.text,
        "visibility": reply.visibility,
        "media": [
            {
                "description": m.description,
                "mime_type": m.mime,
                "data_base64": base64.b64encode(m.data).decode(),
            }
            for m in reply.media
        ],
    }


def _error_body(
    status: int, now: float, reset_after_s: float
) -> tuple[dict[str, Any], dict[str, str]]:
    if status == 429:
        headers = {
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": iso_time(now + reset_after_s),
        }
        return {"error": "Too many requests"}, headers
    words = "Service Unavailable" if status == 503 else "We're sorry, but something went wrong"
    return {"error": words}, {}


def iso_time(epoch_s: float) -> str:
    return (
        datetime.fromtimestamp(epoch_s, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
