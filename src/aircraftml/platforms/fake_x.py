"""A faithful local fake of the X API, for tests and demos; the real XClient talks to it.

Same endpoints, same signatures, same errors (as far as ``shared/reference/x-api.md`` and
X's docs tell): ``POST /2/tweets``, ``POST /2/media/upload`` (one request or
``initialize``/``append``/``finalize``), ``POST /2/media/metadata``, ``GET /2/tweets/:id``
with media expansions, ``GET /2/users/:id/tweets`` (a user's timeline), photo hosting at
``GET /media/<key>.jpg``; OAuth 1.0a and bearer checks; ``x-rate-limit-*`` headers and 429;
signed webhook deliveries with X's retry schedule and the CRC check on registration.
Differences from X: webhooks and media may be plain http (loopback), and the admin API
under ``/_fake`` has no auth.

Python API (tests and demo)::

    fake = FakeX(FakeXConfig(retry_delays_s=(0.05, 0.1)))
    with FakeXServer(fake, port=0) as server:          # uvicorn on a loopback thread
        fake.register_webhook("http://127.0.0.1:9000/webhooks/x")
        fake.mention("alice", "@aircraftml what is this?", photos=[jpeg_bytes])
        fake.inject_fault("/2/tweets", "503", count=2)
        fake.replies                                    # what the bot posted
"""

from __future__ import annotations

import hmac
import itertools
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request

from aircraftml.fakes.faults import ASGIApp, FaultKind, FaultMiddleware, Faults
from aircraftml.platforms.fake_x_model import (
    MENTION_PATTERN,
    FakeActivitySubscription,
    FakeMedia,
    FakePost,
    FakeReply,
    FakeUser,
    FakeWebhook,
    account_activity_envelope,
    sniff_image_mime,
    v1_tweet,
    x_activity_envelope,
)
from aircraftml.platforms.x_auth import oauth1_signature, parse_oauth_header
from aircraftml.platforms.x_fields import SERVED, LookupDialect
from aircraftml.platforms.x_webhook import SIGNATURE_HEADER, sign_body

logger = logging.getLogger(__name__)

DUPLICATE_DETAIL = "You are not allowed to create a Tweet with duplicate content."
# X's words for a reply where the author did not summon the bot (as X answers in 2026).
NOT_SUMMONED_DETAIL = (
    "Reply to this conversation is not allowed because you have not been mentioned or "
    "otherwise engaged by the author of the post you are replying to."
)
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_ALT_TEXT_CHARS = 1000
MEDIA_EXPIRES_AFTER_S = 86400
Envelope = Literal["account_activity", "x_activity"]

# Rate-limit windows per route: (header prefix, requests, window in seconds).
DEFAULT_RATE_LIMITS: dict[str, tuple[tuple[str, int, float], ...]] = {
    "POST /2/tweets": (("x-rate-limit", 100, 900.0), ("x-app-limit-24hour", 10_000, 86400.0)),
    "POST /2/media/upload": (("x-rate-limit", 500, 900.0),),
    # The chunked endpoints have buckets of their own (X's rate-limit table).
    "POST /2/media/upload/initialize": (("x-rate-limit", 1875, 900.0),),
    "POST /2/media/upload/append": (("x-rate-limit", 1875, 900.0),),
    "POST /2/media/upload/finalize": (("x-rate-limit", 1875, 900.0),),
    "POST /2/media/metadata": (("x-rate-limit", 500, 900.0),),
    "GET /2/tweets/:id": (("x-rate-limit", 900, 900.0),),
    "GET /2/users/:id/tweets": (("x-rate-limit", 900, 900.0),),
    "GET /2/users/me": (("x-rate-limit", 75, 900.0),),
}

__all__ = [
    "DUPLICATE_DETAIL",
    "DeliveryAttempt",
    "DeliveryResult",
    "FakeMedia",
    "FakePost",
    "FakeReply",
    "FakeX",
    "FakeXConfig",
    "FakeXServer",
    "LoopbackServer",
    "WebhookRegistrationError",
]


class WebhookRegistrationError(RuntimeError):
    """The webhook failed X's challenge-response check; it is not registered."""


@dataclass(frozen=True, slots=True)
class FakeXConfig:
    """Credentials the fake accepts, the bot's account, and timings (scale down in tests)."""

    consumer_key: str = "fake-consumer-key"
    consumer_secret: str = "fake-consumer-secret"
    access_token: str = "1000-fake-access-token"
    access_token_secret: str = "fake-access-token-secret"
    bearer_tokens: tuple[str, ...] = ("fake-user-bearer-token",)  # the bot's OAuth 2.0 tokens
    app_bearer_tokens: tuple[str, ...] = ("fake-app-bearer-token",)  # app-only (OAuth 2.0)
    oauth2_client_id: str = "fake-oauth2-client-id"
    oauth2_client_secret: str = "fake-oauth2-client-secret"
    oauth2_refresh_token: str = "fake-refresh-token"
    allow_insecure_webhooks_for_testing: bool = False  # X takes only https, with no port
    crc_interval_s: float | None = None  # re-run the CRC check this often (X: hourly)
    bot_user_id: str = "1000"
    bot_handle: str = "aircraftml"
    public_base_url: str = "http://127.0.0.1:8081"
    delivery_timeout_s: float = 3.0
    retry_delays_s: tuple[float, ...] = (3.0, 33.0, 300.0)
    crc_timeout_s: float = 10.0
    max_clock_skew_s: float = 300.0
    lookup_dialect: LookupDialect = SERVED  # the names GET /2/tweets/:id takes (x_fields)
    media_processing_polls: int = 0  # FINALIZE answers pending; STATUS polls until it ends
    media_processing_outcome: Literal["succeeded", "failed"] = "succeeded"


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    status: int | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What happened to one webhook delivery: every attempt, and whether one got 200."""

    post_id: str | None
    payload: dict[str, Any]
    attempts: tuple[DeliveryAttempt, ...]

    @property
    def delivered(self) -> bool:
        return any(a.status == 200 for a in self.attempts)


@dataclass(slots=True)
class _Window:
    limit: int
    window_s: float
    started_epoch_s: float = 0.0
    used: int = 0


@dataclass(slots=True)
class _State:
    users: dict[str, FakeUser] = field(default_factory=dict)  # by lower-case handle
    posts: dict[str, FakePost] = field(default_factory=dict)
    media: dict[str, FakeMedia] = field(default_factory=dict)
    replies: list[FakeReply] = field(default_factory=list)
    deliveries: list[DeliveryResult] = field(default_factory=list)
    windows: dict[tuple[str, str, str], _Window] = field(default_factory=dict)
    nonces: set[tuple[str, str]] = field(default_factory=set)
    webhooks: dict[str, FakeWebhook] = field(default_factory=dict)
    account_activity: set[tuple[str, str]] = field(default_factory=set)  # (webhook, user)
    activity: dict[str, FakeActivitySubscription] = field(default_factory=dict)
    user_tokens: set[str] = field(default_factory=set)  # OAuth 2.0 user access tokens
    refresh_tokens: set[str] = field(default_factory=set)


class XProblem(Exception):
    """An X error answer, raised inside a route and rendered by ``_api``."""

    def __init__(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(body)
        self.status = status
        self.body = body
        self.headers = headers or {}


def invalid_request(message: str) -> XProblem:
    return XProblem(
        400,
        {
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
            "errors": [{"message": message}],
        },
    )


def forbidden(detail: str) -> XProblem:
    return XProblem(
        403, {"title": "Forbidden", "type": "about:blank", "status": 403, "detail": detail}
    )


def unsupported_authentication(used: str, supported: str) -> XProblem:
    """X's 403 for a credential of the wrong kind (its words)."""
    return XProblem(
        403,
        {
            "title": "Unsupported Authentication",
            "detail": f"Authenticating with {used} is forbidden for this endpoint.  Supported "
            f"authentication types are [{supported}].",
            "type": "https://api.twitter.com/2/problems/unsupported-authentication",
            "status": 403,
        },
    )


UNAUTHORIZED = XProblem(
    401, {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
)


class FakeX:
    """The fake's state, its Starlette ``app``, and the Python API for tests and demos."""

    def __init__(
        self, config: FakeXConfig | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config or FakeXConfig()
        self._clock = clock
        self._lock = threading.RLock()
        self._state = _State()
        self._ids = itertools.count(1_900_000_000_000_000_001)
        self._user_ids = itertools.count(2001)
        self._rate_limits = dict(DEFAULT_RATE_LIMITS)
        self._faults = Faults()
        bot = FakeUser(self.config.bot_user_id, self.config.bot_handle)
        self._state.users[bot.handle.lower()] = bot
        self._seed_tokens()
        self.app = FaultMiddleware(self._build_app(), self._faults, _error_body, clock)

    # --- Python API -------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every post, upload, reply, delivery, fault, window and the webhook."""
        with self._lock:
            bot = self._state.users[self.config.bot_handle.lower()]
            self._state = _State(users={bot.handle.lower(): bot})
            self._rate_limits = dict(DEFAULT_RATE_LIMITS)
            self._faults.clear()
            self._seed_tokens()

    def _seed_tokens(self) -> None:
        self._state.user_tokens = set(self.config.bearer_tokens)
        self._state.refresh_tokens = {self.config.oauth2_refresh_token}

    def expire_user_tokens(self) -> None:
        """Every OAuth 2.0 user access token stops working (its refresh token still does)."""
        with self._lock:
            self._state.user_tokens.clear()

    def bot_environ(self, base_url: str) -> dict[str, str]:
        """The ``AIRCRAFTML_*`` settings that point the bot at this fake, reached at
        ``base_url``: the fake's credentials and accounts, and its host as the only media host
        (plain http allowed, as only a local fake needs)."""
        config = self.config
        return {
            "AIRCRAFTML_BOT_USER_ID": config.bot_user_id,
            "AIRCRAFTML_BOT_HANDLE": config.bot_handle,
            "AIRCRAFTML_X_CONSUMER_KEY": config.consumer_key,
            "AIRCRAFTML_X_CONSUMER_SECRET": config.consumer_secret,
            "AIRCRAFTML_X_ACCESS_TOKEN": config.access_token,
            "AIRCRAFTML_X_ACCESS_TOKEN_SECRET": config.access_token_secret,
            "AIRCRAFTML_X_API_BASE_URL": base_url,
            "AIRCRAFTML_X_MEDIA_HOSTS": httpx.URL(base_url).host,
            "AIRCRAFTML_ALLOW_INSECURE_MEDIA_FOR_TESTING": "true",
            "AIRCRAFTML_X_BEARER_TOKEN": config.app_bearer_tokens[0],  # for `aircraftml x`
        }

    def set_public_base_url(self, url: str) -> None:
        """Where clients reach the fake (photo URLs are built from it)."""
        self.config = replace(self.config, public_base_url=url.rstrip("/"))

    @property
    def media_url_template(self) -> str:
        return self.config.public_base_url + "/media/{key}.jpg"

    def user(self, handle: str) -> FakeUser:
        """The user with this handle, created on first use."""
        with self._lock:
            key = handle.lstrip("@").lower()
            if key not in self._state.users:
                self._state.users[key] = FakeUser(str(next(self._user_ids)), handle.lstrip("@"))
            return self._state.users[key]

    def create_post(
        self,
        author_handle: str,
        text: str,
        photos: Sequence[bytes] = (),
        in_reply_to: str | None = None,
        quote_of: str | None = None,
    ) -> str:
        """A post by a user (no delivery), e.g. the photo a later mention replies to;
        ``quote_of`` makes it a quote post of that post."""
        if len(photos) > 4:
            raise ValueError("a post has at most 4 photos")
        author = self.user(author_handle)
        with self._lock:
            for ref in (in_reply_to, quote_of):
                if ref is not None and ref not in self._state.posts:
                    raise KeyError(f"no post {ref}")
            media_ids = tuple(self._store_photo(author.id, data) for data in photos)
            post = FakePost(self.next_id(), author.id, text, media_ids, in_reply_to, quote_of)
            self._state.posts[post.id] = post
        return post.id

    def mention(
        self,
        author_handle: str,
        text: str,
        photos: Sequence[bytes] = (),
        in_reply_to: str | None = None,
        envelope: Envelope | None = None,
    ) -> DeliveryResult:
        """Create a post mentioning the bot and deliver it, as X does, to each valid webhook
        the bot is subscribed to (with retries): an Account Activity subscription gets the
        Account Activity envelope, an X Activity one the ``post.mention.create`` event
        (``envelope`` forces one). The first webhook's result; not delivered if none.

        ``@<bot>`` is put in front of ``text`` when the text does not mention the bot.
        """
        handle = self.config.bot_handle.lower()
        if handle not in {m.lower() for m in MENTION_PATTERN.findall(text)}:
            text = f"@{self.config.bot_handle} {text}"
        post_id = self.create_post(author_handle, text, photos, in_reply_to)
        targets = self._mention_targets(self.config.bot_user_id)
        if not self._state.webhooks:
            raise RuntimeError("no webhook registered: call register_webhook(url) first")
        results = [
            self._deliver_to(hook.url, self.event_for(post_id, envelope or kind, tag), post_id)
            for hook, kind, tag in targets
        ]
        return results[0] if results else self._undelivered(post_id)

    def _mention_targets(self, user_id: str) -> list[tuple[FakeWebhook, Envelope, str]]:
        """(webhook, envelope, tag) for each valid webhook subscribed to ``user_id``."""
        with self._lock:
            state = self._state
            targets: list[tuple[FakeWebhook, Envelope, str]] = [
                (state.webhooks[w], "account_activity", "")
                for w, u in sorted(state.account_activity)
                if u == user_id and w in state.webhooks
            ]
            targets += [
                (state.webhooks[sub.webhook_id], "x_activity", sub.tag)
                for sub in state.activity.values()
                if sub.user_id == user_id
                and sub.event_type == "post.mention.create"
                and sub.webhook_id in state.webhooks
            ]
            return [t for t in targets if t[0].valid]

    def _undelivered(self, post_id: str) -> DeliveryResult:
        logger.warning("fake x: post %s not delivered: no valid subscribed webhook", post_id)
        result = DeliveryResult(post_id, {}, ())
        with self._lock:
            self._state.deliveries.append(result)
        return result

    def event_for(
        self, post_id: str, envelope: Envelope = "account_activity", tag: str = ""
    ) -> dict[str, Any]:
        """The webhook payload X would send for this post."""
        with self._lock:
            post = self._state.posts[post_id]
            author = self.user_by_id(post.author_id)
            if envelope == "x_activity":
                return x_activity_envelope(self.config.bot_user_id, post, author, tag or "mentions")
            tweet = v1_tweet(post, author, dict(self._state.users), self.media_url_template)
            return account_activity_envelope(self.config.bot_user_id, tweet)

    def deliver(self, payload: dict[str, Any], post_id: str | None = None) -> DeliveryResult:
        """POST a signed event to every valid webhook, retrying on X's schedule."""
        with self._lock:
            urls = [hook.url for hook in self._state.webhooks.values() if hook.valid]
        if not self._state.webhooks:
            raise RuntimeError("no webhook registered: call register_webhook(url) first")
        results = [self._deliver_to(url, payload, post_id) for url in urls]
        return results[0] if results else DeliveryResult(post_id, payload, ())

    def _deliver_to(self, url: str, payload: dict[str, Any], post_id: str | None) -> DeliveryResult:
        raw = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        headers = {
            "content-type": "application/json",
            SIGNATURE_HEADER: sign_body(raw, self.config.consumer_secret),
        }
        attempts = []
        delays = (0.0, *self.config.retry_delays_s)
        with httpx.Client(timeout=self.config.delivery_timeout_s) as http:
            for delay_s in delays:
                time.sleep(delay_s)
                attempt = _attempt(http, url, raw, headers)
                attempts.append(attempt)
                if attempt.status == 200:
                    break
        result = DeliveryResult(post_id, payload, tuple(attempts))
        if not result.delivered:
            logger.warning("fake x: delivery dropped after %d attempts", len(attempts))
        with self._lock:
            self._state.deliveries.append(result)
        return result

    def register_webhook(self, url: str) -> str:
        """Tests' and the demo's shortcut: register ``url`` (after the CRC check, as
        ``POST /2/webhooks`` does, but without its https rule) and subscribe the bot to
        it (Account Activity); the webhook's id."""
        hook = self.add_webhook(url)
        with self._lock:
            self._state.account_activity.add((hook.id, self.config.bot_user_id))
        logger.info("fake x: webhook %s registered at %s", hook.id, url)
        return hook.id

    def add_webhook(self, url: str) -> FakeWebhook:
        """Run the CRC check against ``url``; store the webhook only when the answer is right."""
        crc_check(url, self.config.consumer_secret, self.config.crc_timeout_s)
        with self._lock:
            hook = FakeWebhook(self.next_id(), url)
            self._state.webhooks[hook.id] = hook
        return hook

    def run_crc_checks(self) -> dict[str, bool]:
        """X's periodic CRC check of every webhook: a wrong answer marks it invalid (no more
        deliveries) until ``PUT /2/webhooks/:id`` validates it again. ``{id: valid}``."""
        with self._lock:
            hooks = list(self._state.webhooks.values())
        return {hook.id: self.validate_webhook(hook) for hook in hooks}

    def validate_webhook(self, hook: FakeWebhook) -> bool:
        try:
            crc_check(hook.url, self.config.consumer_secret, self.config.crc_timeout_s)
        except WebhookRegistrationError as exc:
            logger.warning("fake x: webhook %s failed the CRC check: %s", hook.id, exc)
            hook.valid = False
        else:
            hook.valid = True
        return hook.valid

    @property
    def webhooks(self) -> list[FakeWebhook]:
        with self._lock:
            return list(self._state.webhooks.values())

    def inject_fault(
        self,
        path: str,
        kind: FaultKind,
        count: int = 1,
        *,
        delay_s: float = 0.0,
        reset_after_s: float = 60.0,
        method: str | None = None,
    ) -> None:
        """Make the next ``count`` requests whose path matches ``path`` (a glob) fail.

        Kinds: ``"429"`` (with ``x-rate-limit-reset`` = now + ``reset_after_s``), ``"500"``,
        ``"503"``, ``"slow"`` (answer normally after ``delay_s``), ``"drop"`` (close the
        connection in the middle of the answer).
        """
        self._faults.inject(
            path, kind, count=count, delay_s=delay_s, reset_after_s=reset_after_s, method=method
        )

    def set_rate_limit(self, route: str, limit: int, window_s: float = 900.0) -> None:
        """Change a route's 15-minute window, e.g. ``set_rate_limit("POST /2/tweets", 2)``."""
        others = tuple(w for w in self._rate_limits.get(route, ()) if w[0] != "x-rate-limit")
        self._rate_limits[route] = (("x-rate-limit", limit, window_s), *others)
        with self._lock:
            for key in [k for k in self._state.windows if k[0] == route]:
                del self._state.windows[key]

    @property
    def replies(self) -> list[FakeReply]:
        with self._lock:
            return list(self._state.replies)

    @property
    def deliveries(self) -> list[DeliveryResult]:
        with self._lock:
            return list(self._state.deliveries)

    @property
    def request_log(self) -> list[tuple[str, str, int]]:
        """``(method, path, status)`` of every request the fake answered."""
        return list(self._faults.log)

    def post(self, post_id: str) -> FakePost:
        with self._lock:
            return self._state.posts[post_id]

    def media(self, media_id: str) -> FakeMedia:
        with self._lock:
            return self._state.media[media_id]

    # --- internals shared by routes ---------------------------------------------------

    def next_id(self) -> str:
        return str(next(self._ids))

    def user_by_id(self, user_id: str) -> FakeUser:
        return next(u for u in self._state.users.values() if u.id == user_id)

    def _store_photo(self, owner_id: str, data: bytes) -> str:
        mime = sniff_image_mime(data) or "image/jpeg"
        media = FakeMedia(self.next_id(), owner_id, mime, len(data), data=data, ready=True)
        self._state.media[media.id] = media
        return media.id

    def _build_app(self) -> Starlette:
        from aircraftml.platforms import fake_x_routes, fake_x_webhooks

        return Starlette(routes=[*fake_x_routes.routes(self), *fake_x_webhooks.routes(self)])

    # --- used by fake_x_routes: auth, rate limits, state under the lock ----------------

    def authenticate(self, request: Request, body: bytes) -> str:
        """The user id a user-context request acts for; 401, or 403 for an app-only token."""
        kind, user_id = self.caller(request, body)
        if kind == "app":
            raise unsupported_authentication(
                "OAuth 2.0 Application-Only", "OAuth 1.0a User Context, OAuth 2.0 User Context"
            )
        assert user_id is not None
        return user_id

    def authenticate_app(self, request: Request, body: bytes) -> None:
        """Pass an app-only bearer token; 401, or 403 for a user's credentials."""
        kind, _ = self.caller(request, body)
        if kind != "app":
            used = "OAuth 1.0a User Context" if kind == "oauth1" else "OAuth 2.0 User Context"
            raise unsupported_authentication(used, "OAuth 2.0 Application-Only")

    def caller(self, request: Request, body: bytes) -> tuple[str, str | None]:
        """``("app", None)``, ``("oauth1", user id)`` or ``("oauth2", user id)``; 401 else."""
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            token = header[7:].strip()
            if any(hmac.compare_digest(token, t) for t in self.config.app_bearer_tokens):
                return "app", None
            with self._lock:
                users = list(self._state.user_tokens)
            if any(hmac.compare_digest(token, t) for t in users):
                return "oauth2", self.config.bot_user_id
            raise UNAUTHORIZED
        oauth = parse_oauth_header(header)
        if not oauth or not self._oauth_valid(request, body, oauth):
            raise UNAUTHORIZED
        return "oauth1", self.config.bot_user_id

    def refresh_user_token(self, refresh_token: str) -> tuple[str, str] | None:
        """``POST /2/oauth2/token``'s refresh: new (access, refresh) tokens; the old refresh
        token is spent (X rotates it). None for an unknown refresh token."""
        with self._lock:
            if refresh_token not in self._state.refresh_tokens:
                return None
            self._state.refresh_tokens.discard(refresh_token)
            access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
            self._state.user_tokens.add(access)
            self._state.refresh_tokens.add(refresh)
            return access, refresh

    def _oauth_valid(self, request: Request, body: bytes, oauth: dict[str, str]) -> bool:
        config = self.config
        if oauth.get("oauth_consumer_key") != config.consumer_key:
            return False
        if oauth.get("oauth_token") != config.access_token:
            return False
        if oauth.get("oauth_signature_method") != "HMAC-SHA1":
            return False
        if oauth.get("oauth_version", "1.0") != "1.0":
            return False
        try:
            skew_s = abs(float(oauth.get("oauth_timestamp", "")) - self._clock())
        except ValueError:
            return False
        if skew_s > config.max_clock_skew_s:
            return False
        params = [(k, v) for k, v in oauth.items() if k not in ("oauth_signature", "realm")]
        params += list(request.query_params.multi_items())
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "application/x-www-form-urlencoded":
            from urllib.parse import parse_qsl

            params += parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        url = str(request.url.replace(query=""))
        expected = oauth1_signature(
            request.method, url, params, config.consumer_secret, config.access_token_secret
        )
        if not hmac.compare_digest(expected, oauth.get("oauth_signature", "")):
            return False
        nonce = (oauth.get("oauth_nonce", ""), oauth["oauth_timestamp"])
        with self._lock:
            if nonce in self._state.nonces:
                return False
            self._state.nonces.add(nonce)
        return True

    def take_rate_limit(self, route: str, user_id: str) -> dict[str, str]:
        """Count one request; the ``x-*-limit`` headers, or raise the 429 problem."""
        now = self._clock()
        headers: dict[str, str] = {}
        exhausted = False
        with self._lock:
            for prefix, limit, window_s in self._rate_limits.get(route, ()):
                window = self._state.windows.setdefault(
                    (route, user_id, prefix), _Window(limit, window_s, now)
                )
                if now >= window.started_epoch_s + window.window_s:
                    window.started_epoch_s, window.used = now, 0
                exhausted = exhausted or window.used >= window.limit
                window.used += 0 if exhausted else 1
                reset = int(window.started_epoch_s + window.window_s)
                headers[f"{prefix}-limit"] = str(window.limit)
                headers[f"{prefix}-remaining"] = str(max(window.limit - window.used, 0))
                headers[f"{prefix}-reset"] = str(reset)
        if exhausted:
            raise _rate_limited(headers)
        return headers

    @property
    def state(self) -> _State:
        return self._state

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def now(self) -> float:
        return self._clock()


def _rate_limited(headers: dict[str, str]) -> XProblem:
    body = {"errors": [{"code": 88, "message": "Rate limit exceeded"}]}
    return XProblem(429, body, headers)


def _attempt(http: httpx.Client, url: str, raw: bytes, headers: dict[str, str]) -> DeliveryAttempt:
    try:
        response = http.post(url, content=raw, headers=headers)
    except httpx.HTTPError as exc:
        return DeliveryAttempt(None, f"{type(exc).__name__}: {exc}")
    return DeliveryAttempt(response.status_code)


def crc_check(url: str, consumer_secret: str, timeout_s: float) -> None:
    """X's challenge-response check of a webhook; WebhookRegistrationError if it fails."""
    token = secrets.token_urlsafe(32)
    expected = sign_body(token.encode(), consumer_secret)
    try:
        response = httpx.get(
            url, params={"crc_token": token}, timeout=timeout_s, follow_redirects=False
        )
    except httpx.HTTPError as exc:
        raise WebhookRegistrationError(f"CRC request to {url} failed: {exc}") from exc
    if response.status_code != 200:
        raise WebhookRegistrationError(f"CRC answer was HTTP {response.status_code}, not 200")
    try:
        answer = response.json().get("response_token")
    except (ValueError, AttributeError) as exc:
        raise WebhookRegistrationError("CRC answer is not a JSON object") from exc
    if not isinstance(answer, str) or not hmac.compare_digest(answer, expected):
        raise WebhookRegistrationError("CRC answer has the wrong response_token")


def _error_body(
    status: int, now: float, reset_after_s: float
) -> tuple[dict[str, Any], dict[str, str]]:
    """An injected error in X's words: a 429 with its rate-limit headers, or a problem."""
    if status == 429:
        problem = _rate_limited(
            {
                "x-rate-limit-limit": "1",
                "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": str(int(now + reset_after_s)),
            }
        )
        return problem.body, problem.headers
    title = "Service Unavailable" if status == 503 else "Internal Server Error"
    body = {"title": title, "type": "about:blank", "status": status, "detail": "injected fault"}
    return body, {}


class LoopbackServer:
    """Runs any ASGI app with uvicorn on a background thread; ``port=0`` picks a free port."""

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", lifespan="off", http="h11"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="uvicorn", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 10.0) -> str:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"server on {self.host}:{self.port} did not start")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self.base_url

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> LoopbackServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class FakeXServer(LoopbackServer):
    """The fake on a loopback port; photo URLs point at it once it has started."""

    def __init__(self, fake: FakeX, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(fake.app, host, port)
        self.fake = fake

    def start(self, timeout_s: float = 10.0) -> str:
        base_url = super().start(timeout_s)
        self.fake.set_public_base_url(base_url)
        interval_s = self.fake.config.crc_interval_s
        if interval_s:
            self._crc_stop = threading.Event()
            threading.Thread(target=self._crc_loop, args=(interval_s,), daemon=True).start()
        return base_url

    def _crc_loop(self, interval_s: float) -> None:
        while not self._crc_stop.wait(interval_s):
            self.fake.run_crc_checks()

    def stop(self) -> None:
        if hasattr(self, "_crc_stop"):
            self._crc_stop.set()
        super().stop()

    def __enter__(self) -> FakeXServer:
        self.start()
        return self
