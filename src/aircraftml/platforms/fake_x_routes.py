"""The HTTP endpoints of the local fake of X (see ``fake_x``): X's API and ``/_fake`` admin.

Each API route goes through :func:`_api`: read the body, check OAuth 1.0a or the bearer
token (401), count the request against the route's rate limits (429 with ``x-rate-limit-*``
headers), then validate as strictly as X does (400 for unknown properties).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, QueryParams, UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aircraftml.platforms.fake_x import (
    DUPLICATE_DETAIL,
    MAX_ALT_TEXT_CHARS,
    MAX_IMAGE_BYTES,
    MEDIA_EXPIRES_AFTER_S,
    NOT_SUMMONED_DETAIL,
    WebhookRegistrationError,
    XProblem,
    forbidden,
    invalid_request,
)
from aircraftml.platforms.fake_x_model import (
    MENTION_PATTERN,
    FakeMedia,
    FakePost,
    FakeReply,
    sniff_image_mime,
    v2_post,
)
from aircraftml.platforms.x_fields import MEDIA_FIELDS, USER_FIELDS, LookupDialect
from aircraftml.platforms.x_text import MAX_WEIGHTED_LENGTH, weighted_length

if TYPE_CHECKING:
    from aircraftml.platforms.fake_x import FakeX

IMAGE_MIME_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
IMAGE_CATEGORIES = frozenset({"tweet_image", "dm_image"})
MEDIA_CATEGORIES = ["tweet_image", "tweet_video", "tweet_gif", "dm_image", "dm_video", "dm_gif",
                    "subtitles"]  # fmt: skip
UPLOAD_FIELDS = frozenset({"media", "media_category", "additional_owners", "shared"})
# POST /2/tweets: X's documented properties; the fake implements text, reply and media.
TWEET_PROPERTIES = frozenset({
    "text", "reply", "media", "quote_tweet_id", "poll", "reply_settings", "geo", "nullcast",
    "for_super_followers_only", "direct_message_deep_link", "card_uri", "community_id",
    "share_with_followers", "made_with_ai", "paid_partnership", "edit_options",
})  # fmt: skip
REPLY_PROPERTIES = frozenset({"in_reply_to_tweet_id", "exclude_reply_user_ids",
                              "auto_populate_reply_metadata"})  # fmt: skip
MEDIA_PROPERTIES = frozenset({"media_ids", "tagged_user_ids"})
TIMELINE_PARAMS = frozenset({"since_id", "until_id", "max_results", "pagination_token",
                             "start_time", "end_time", "exclude"})  # fmt: skip
POLL_FIELDS = frozenset({"duration_minutes", "end_datetime", "id", "options", "voting_status"})
PLACE_FIELDS = frozenset({"contained_within", "country", "country_code", "full_name", "geo",
                          "id", "name", "place_type"})  # fmt: skip
DIGITS = re.compile(r"^[0-9]{1,19}$")


@dataclass(frozen=True, slots=True)
class _Call:
    request: Request
    user_id: str
    body: bytes

    def json_object(self) -> dict[str, Any]:
        import json

        try:
            value = json.loads(self.body)
        except ValueError as exc:
            raise invalid_request(f"The request body is not valid JSON: {exc}") from exc
        if not isinstance(value, dict):
            raise invalid_request("The request body must be a JSON object.")
        return value

    async def form(self) -> FormData:
        return await self.request.form()


Handler = Callable[["FakeX", _Call], Awaitable[tuple[int, dict[str, Any]]]]


def routes(fake: FakeX) -> list[Route]:
    def api(rate_route: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await _api(fake, rate_route, handler, request)

        return endpoint

    def admin(handler: Callable[[FakeX, Request], Awaitable[Response]]) -> Any:
        async def endpoint(request: Request) -> Response:
            return await handler(fake, request)

        return endpoint

    upload = "POST /2/media/upload"
    chunked = "POST /2/media/upload/"
    return [
        Route("/2/tweets", api("POST /2/tweets", _create_post), methods=["POST"]),
        Route("/2/tweets/{id}", api("GET /2/tweets/:id", _get_post), methods=["GET"]),
        Route(
            "/2/users/{id}/tweets",
            api("GET /2/users/:id/tweets", _user_posts),
            methods=["GET"],
        ),
        Route("/2/users/me", api("GET /2/users/me", _get_me), methods=["GET"]),
        Route("/2/media/upload", api(upload, _upload), methods=["POST"]),
        Route("/2/media/upload", api("GET /2/media/upload", _status), methods=["GET"]),
        Route(
            "/2/media/upload/initialize", api(chunked + "initialize", _initialize), methods=["POST"]
        ),
        Route("/2/media/upload/{id}/append", api(chunked + "append", _append), methods=["POST"]),
        Route(
            "/2/media/upload/{id}/finalize", api(chunked + "finalize", _finalize), methods=["POST"]
        ),
        Route("/2/media/metadata", api("POST /2/media/metadata", _metadata), methods=["POST"]),
        Route("/media/{key}.jpg", admin(_photo), methods=["GET"]),
        Route("/_fake/replies", admin(_admin_replies), methods=["GET"]),
        Route("/_fake/deliveries", admin(_admin_deliveries), methods=["GET"]),
        Route("/_fake/posts", admin(_admin_create_post), methods=["POST"]),
        Route("/_fake/mention", admin(_admin_mention), methods=["POST"]),
        Route("/_fake/faults", admin(_admin_fault), methods=["POST"]),
        Route("/_fake/webhook", admin(_admin_webhook), methods=["POST"]),
    ]


async def _api(fake: FakeX, rate_route: str, handler: Handler, request: Request) -> Response:
    headers: dict[str, str] = {}
    try:
        body = await request.body()
        user_id = fake.authenticate(request, body)
        headers = fake.take_rate_limit(rate_route, user_id)
        status, answer = await handler(fake, _Call(request, user_id, body))
    except XProblem as problem:
        return JSONResponse(problem.body, problem.status, headers={**headers, **problem.headers})
    return JSONResponse(answer, status, headers=headers)


# --- posts --------------------------------------------------------------------------


async def _create_post(fake: FakeX, call: _Call) -> tuple[int, dict[str, Any]]:
    payload = call.json_object()
    _only(payload, TWEET_PROPERTIES, "")
    _only(payload, frozenset({"text", "reply", "media"}), "", implemented=False)
    text = payload.get("text")
    if text is not None and not isinstance(text, str):
        raise invalid_request("$.text must be a string")
    parent_id = _reply_target(payload.get("reply"))
    media_ids = _media_ids(payload.get("media"))
    if not text and not media_ids:
        raise invalid_request("One of text or media is required.")
    text = text or ""
    if weighted_length(text) > MAX_WEIGHTED_LENGTH:
        raise invalid_request(f"Tweet text is longer than {MAX_WEIGHTED_LENGTH} characters.")
    with fake.lock:
        post = _new_post(fake, call.user_id, text, media_ids, parent_id)
    return 201, {"data": {"id": post.id, "text": post.text, "edit_history_tweet_ids": [post.id]}}


def _new_post(
    fake: FakeX, user_id: str, text: str, media_ids: tuple[str, ...], parent_id: str | None
) -> FakePost:
    """Checks that need the state (called under the lock), then stores the post."""
    state = fake.state
    if text and any(p.author_id == user_id and p.text == text for p in state.posts.values()):
        raise forbidden(DUPLICATE_DETAIL)
    if parent_id is not None:
        parent = state.posts.get(parent_id)
        if parent is None:
            raise invalid_request(f"Could not find tweet with in_reply_to_tweet_id: [{parent_id}].")
        if not _summoned(fake, parent, user_id):
            raise forbidden(NOT_SUMMONED_DETAIL)
    for media_id in media_ids:
        media = state.media.get(media_id)
        if media is None or media.owner_id != user_id or not media.ready:
            raise invalid_request("Your media IDs are invalid.")
    post = FakePost(fake.next_id(), user_id, text, media_ids, parent_id)
    state.posts[post.id] = post
    if parent_id is not None:
        attached = tuple(state.media[m] for m in media_ids)
        state.replies.append(FakeReply(post.id, parent_id, text, attached))
    return post


def _summoned(fake: FakeX, parent: FakePost, user_id: str) -> bool:
    """X's rule since 2026-02-23: reply only to your own posts, or where the author
    mentioned you or quoted one of your posts."""
    if parent.author_id == user_id or _mentions_bot(fake, parent.text):
        return True
    quoted = fake.state.posts.get(parent.quoted_id or "")
    return quoted is not None and quoted.author_id == user_id


def _mentions_bot(fake: FakeX, text: str) -> bool:
    handle = fake.config.bot_handle.lower()
    return any(m.lower() == handle for m in MENTION_PATTERN.findall(text))


def _reply_target(reply: Any) -> str | None:
    if reply is None:
        return None
    if not isinstance(reply, dict):
        raise invalid_request("$.reply must be an object")
    _only(reply, REPLY_PROPERTIES, "reply.")
    _only(reply, frozenset({"in_reply_to_tweet_id"}), "reply.", implemented=False)
    target = reply.get("in_reply_to_tweet_id")
    if not isinstance(target, str) or not DIGITS.match(target):
        raise invalid_request("$.reply.in_reply_to_tweet_id must be a string of digits")
    return target


def _media_ids(media: Any) -> tuple[str, ...]:
    if media is None:
        return ()
    if not isinstance(media, dict):
        raise invalid_request("$.media must be an object")
    _only(media, MEDIA_PROPERTIES, "media.")
    _only(media, frozenset({"media_ids"}), "media.", implemented=False)
    ids = media.get("media_ids")
    if not isinstance(ids, list) or not 1 <= len(ids) <= 4:
        raise invalid_request("$.media.media_ids must hold 1 to 4 ids")
    if not all(isinstance(i, str) and DIGITS.match(i) for i in ids):
        raise invalid_request("$.media.media_ids must be strings of digits")
    return tuple(ids)


def _only(
    obj: dict[str, Any], allowed: frozenset[str], where: str, implemented: bool = True
) -> None:
    for key in obj:
        if key not in allowed:
            if implemented:
                raise invalid_request(f"$.{where}{key} is not a valid property")
            raise invalid_request(
                f"$.{where}{key} is valid on X but the fake does not implement it"
            )


async def _get_post(fake: FakeX, call: _Call) -> tuple[int, dict[str, Any]]:
    post_id = call.request.path_params["id"]
    if not DIGITS.match(post_id):
        raise invalid_request(f"The `id` query parameter value [{post_id}] is not valid")
    dialect = fake.config.lookup_dialect
    query = _lookup_query(call.request.query_params, dialect)
    expansions = query.get("expansions", set())
    fields = query.get(dialect.post_fields, set()) | {e.split(".")[0] for e in expansions}
    if dialect.referenced_expansion in expansions:
        fields.add(dialect.referenced_key)
    with fake.lock:
        post = fake.state.posts.get(post_id)
        if post is None:
            return 200, {"errors": [_not_found(post_id)]}
        data = v2_post(post, frozenset(fields), dialect.referenced_key)
        includes = _includes(fake, post, expansions, query.get("media.fields", set()))
    return 200, {"data": data, **({"includes": includes} if includes else {})}


async def _user_posts(fake: FakeX, call: _Call) -> tuple[int, dict[str, Any]]:
    """A user's posts, newest first: ``since_id``, ``max_results`` (5..100),
    ``pagination_token`` and the post fields and expansions (in the fake's dialect, 400 for
    names it does not know), as X's user timeline answers them."""
    user_id = call.request.path_params["id"]
    query = call.request.query_params
    dialect = fake.config.lookup_dialect
    names = _lookup_query(
        QueryParams([(k, v) for k, v in query.multi_items() if k not in TIMELINE_PARAMS]), dialect
    )
    fields = names.get(dialect.post_fields, set())
    if dialect.referenced_expansion in names.get("expansions", set()):
        fields.add(dialect.referenced_key)
    since_id, token = _id_param(query, "since_id"), _id_param(query, "pagination_token")
    max_results = query.get("max_results", "10")
    if not max_results.isdigit() or not 5 <= int(max_results) <= 100:
        raise invalid_request("The `max_results` query parameter value must be 5..100")
    with fake.lock:
        if not any(u.id == user_id for u in fake.state.users.values()):
            return 200, {"errors": [_not_found(user_id) | {"resource_type": "user"}]}
        posts = sorted(
            (
                p
                for p in fake.state.posts.values()
                if p.author_id == user_id
                and int(p.id) > since_id
                and (token == 0 or int(p.id) < token)
            ),
            key=lambda p: int(p.id),
            reverse=True,
        )
    page, more = posts[: int(max_results)], len(posts) > int(max_results)
    if not page:
        return 200, {"meta": {"result_count": 0}}
    meta: dict[str, Any] = {
        "result_count": len(page),
        "newest_id": page[0].id,
        "oldest_id": page[-1].id,
    }
    if more:
        meta["next_token"] = page[-1].id
    data = [v2_post(p, frozenset(fields), dialect.referenced_key) for p in page]
    return 200, {"data": data, "meta": meta}


def _id_param(query: Any, name: str) -> int:
    value = query.get(name)
    if value is None:
        return 0
    if not DIGITS.match(value):
        raise invalid_request(f"The `{name}` query parameter value [{value}] is not valid")
    return int(value)


async def _get_me(fake: FakeX, call: _Call) -> tuple[int, dict[str, Any]]:
    with fake.lock:
        return 200, {"data": fake.user_by_id(call.user_id).v2()}


def _lookup_query(params: QueryParams, dialect: LookupDialect) -> dict[str, set[str]]:
    """The lookup's query as X checks it: 400 for a parameter or value it does not know."""
    allowed = {
        "expansions": dialect.allowed_expansions,
        "media.fields": MEDIA_FIELDS,
        "user.fields": USER_FIELDS,
        dialect.post_fields: dialect.allowed_post_fields,
        "poll.fields": POLL_FIELDS,
        "place.fields": PLACE_FIELDS,
    }
    query: dict[str, set[str]] = {}
    for name in params:
        if name not in allowed:
            known = ",".join(["id", *sorted(allowed)])
            raise invalid_request(f"The query parameter [{name}] is not one of [{known}]")
        values = _csv(params.get(name))
        unknown = sorted(values - allowed[name])
        if unknown or not values:
            raise invalid_request(
                f"The `{name}` query parameter value [{','.join(unknown)}] is not one of "
                f"[{','.join(sorted(allowed[name]))}]"
            )
        query[name] = values
    return query


def _includes(
    fake: FakeX, post: FakePost, expansions: set[str], media_fields: set[str]
) -> dict[str, Any]:
    includes: dict[str, Any] = {}
    if "attachments.media_keys" in expansions and post.media_ids:
        includes["media"] = [
            _media_json(fake, fake.state.media[m], media_fields) for m in post.media_ids
        ]
    if "author_id" in expansions:
        includes["users"] = [fake.user_by_id(post.author_id).v2()]
    return includes


def _media_json(fake: FakeX, media: FakeMedia, fields: set[str]) -> dict[str, Any]:
    item: dict[str, Any] = {"media_key": media.media_key, "type": "photo"}
    if "url" in fields:
        item["url"] = fake.media_url_template.format(key=media.media_key)
    if "alt_text" in fields and media.alt_text:
        item["alt_text"] = media.alt_text
    return item


def _not_found(post_id: str) -> dict[str, str]:
    return {
        "value": post_id,
        "detail": f"Could not find tweet with id: [{post_id}].",
        "title": "Not Found Error",
        "resource_type": "tweet",
        "parameter": "id",
        "resource_id": post_id,
        "type": "https://api.twitter.com/2/problems/resource-not-found",
    }


def _csv(value: str | None) -> set[str]:
    return {part.strip() for part in (value or "").split(",") if part.strip()}


# --- media --------------------------------------------------------------------------


async def _upload(fake: FakeX, call: _Call) -> tuple[int, dict[str, Any]]:
    """One-shot upload, as v2.167's schema has it: ``media`` and ``media_category`` required,
    ``additional_owners`` and ``shared`` optional, nothing else (``media_type`` is gone)."""
    form = await call.form()
    for name in form:
        if name not in UPLOAD_FIELDS:
            raise invalid_request(f"$.{name} is not a valid property")
    category = form.get("media_category")
    if not isinstance(category, str):
        raise invalid_request("$.media_category is required")
    if category not in MEDIA_CATEGORIES:
        raise invalid_request(f"$.media_category [{category}] is not one of {MEDIA_CATEGORIES}")
    if category not in IMAGE_CATEGORIES:
        raise invalid_request(f"media_category {category!r} is valid on X; the fake takes images")
    data = await _file_field(form, "media")
    mime = _check_image(data)
    with fake.lock:
        media = FakeMedia(fake.next_id(), call.user_id, mime, len(data), data=data, ready=True)
        fake.state.media[media.id] = media
    return 200, {"data": _media_data(media)}


async def _initialize(fake: FakeX, call: _Call) -> tuple[int, dict[str, Any]]:
    payload = call.json_object()
    _only(payload, frozenset({"media_type", "total_bytes", "media_category",
                              "additional_owners", "shared"}), "")  # fmt: skip
    mime, total = payload.get("media_type"), payload.get("total_bytes")
    if mime not in IMAGE_MIME_TYPES:
        raise invalid_request(f"media_type {mime!r} is not a supported image type")
    if not isinstance(total, int) or not 0 < total <= MAX_IMAGE_BYTES:
        raise invalid_request(f"total_bytes must be 1..{MAX_IMAGE_BYTES} for images")
    if payload.get("media_category", "tweet_image") not in IMAGE_CATEGORIES:
        raise invalid_request("media_category is not supported by the fake")
    with fake.lock:
        media = FakeMedia(fake.next_id(), call.user_id, str(mime), total)
        fake.state.media[media.id] = media
    return 200, {"data": _media_data(media)}


async def _append(fake: FakeX, call: _Call) -> tuple[int, dict[str, Any]]:
    form = await call.form()
    chunk = await _file_field(form, "media")
    index = form.get("segment_index")
    if not isinstance(index, str) or not index.isdigit() or int(index) > 999:
        raise invalid_request("segment_index must be an integer 0..999")
    with fake.lock:
        media = _own_media(fake, call)
        if media.ready:
            raise invalid_request("The media is already finalized.")
        media.segments[int(index)] = chunk
    return 200, {"data": {"expires_at": int(fake.now()) + MEDIA_EXPIRES_AFTER_S}}


async def _finalize(fake: FakeX, call: _Call) -> tuple[int, dict[str, Any]]:
    with fake.lock:
        media = _own_media(fake, call)
        data = b"".join(media.segments[i] for i in sorted(media.segments))
        if len(data) != media.total_bytes:
            raise invalid_request(
                f"File size {len(data)} does not match total_bytes {media.total_bytes}"
            )
        if sniff_image_mime(data) != media.mime_type:
            raise invalid_request("The uploaded bytes are not the declared media_type")
        media.data, media.segments = data, {}
        media.polls_left = fake.config.media_processing_polls
        media.ready = media.polls_left == 0
        return 200, {"data": _media_data(media)}


async def _status(fake: FakeX, call: _Call) -> tuple[int, dict[str, Any]]:
    """``GET /2/media/upload?command=STATUS&media_id=``: processing advances one step a poll."""
    query = call.request.query_params
    unknown = set(query) - {"command", "media_id"}
    if unknown or query.get("command", "STATUS") != "STATUS":
        raise invalid_request(f"The query parameters {sorted(unknown)} are not valid")
    with fake.lock:
        media = fake.state.media.get(query.get("media_id", ""))
        if media is None or media.owner_id != call.user_id or not media.data:
            raise invalid_request("Your media ID is invalid.")
        if media.polls_left > 0:
            media.polls_left -= 1
            if media.polls_left == 0:
                media.failed = fake.config.media_processing_outcome == "failed"
                media.ready = not media.failed
        data = _media_data(media)
    data.setdefault("processing_info", {"state": "succeeded", "progress_percent": 100})
    return 200, {"data": data}


async def _metadata(fake: FakeX, call: _Call) -> tuple[int, dict[str, Any]]:
    payload = call.json_object()
    _only(payload, frozenset({"id", "metadata"}), "")
    metadata = payload.get("metadata")
    if not isinstance(metadata, dict):
        raise invalid_request("$.metadata must be an object")
    _only(metadata, frozenset({"alt_text"}), "metadata.", implemented=True)
    alt = metadata.get("alt_text")
    if not isinstance(alt, dict) or set(alt) != {"text"} or not isinstance(alt["text"], str):
        raise invalid_request('$.metadata.alt_text must be {"text": string}')
    if len(alt["text"]) > MAX_ALT_TEXT_CHARS:
        raise invalid_request(
            f"$.metadata.alt_text.text is longer than {MAX_ALT_TEXT_CHARS} characters"
        )
    media_id = payload.get("id")
    with fake.lock:
        media = fake.state.media.get(str(media_id))
        if media is None or media.owner_id != call.user_id:
            raise invalid_request("Your media ID is invalid.")
        media.alt_text = alt["text"]
    return 200, {
        "data": {"id": media.id, "associated_metadata": {"alt_text": {"text": alt["text"]}}}
    }


def _own_media(fake: FakeX, call: _Call) -> FakeMedia:
    media = fake.state.media.get(call.request.path_params["id"])
    if media is None or media.owner_id != call.user_id:
        raise invalid_request("Your media ID is invalid.")
    return media


async def _file_field(form: FormData, name: str) -> bytes:
    value = form.get(name)
    if not isinstance(value, UploadFile):
        raise invalid_request(f"The multipart field {name!r} (a file) is required")
    return await value.read()


def _check_image(data: bytes) -> str:
    if not data or len(data) > MAX_IMAGE_BYTES:
        raise invalid_request(f"Images must be 1..{MAX_IMAGE_BYTES} bytes")
    mime = sniff_image_mime(data)
    if mime is None:
        raise invalid_request("Unsupported media type: images must be JPG, PNG, GIF or WEBP")
    return mime


def _media_data(media: FakeMedia) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": media.id,
        "media_key": media.media_key,
        "size": media.total_bytes,
        "expires_after_secs": MEDIA_EXPIRES_AFTER_S,
    }
    if media.polls_left > 0:
        state = "pending" if media.polls_left > 1 else "in_progress"
        data["processing_info"] = {"state": state, "check_after_secs": 1, "progress_percent": 50}
    elif media.failed:
        error = {"code": 1, "name": "InvalidMedia", "message": "Unsupported media file"}
        data["processing_info"] = {"state": "failed", "error": error}
    return data


# --- photo hosting and admin --------------------------------------------------------


async def _photo(fake: FakeX, request: Request) -> Response:
    key = request.path_params["key"]
    with fake.lock:
        media = fake.state.media.get(key.removeprefix("3_"))
        if media is None or not media.ready or media.media_key != key:
            return Response(b"Not Found", 404, media_type="text/plain")
        return Response(media.data, 200, media_type=media.mime_type)


async def _admin_replies(fake: FakeX, request: Request) -> Response:
    template = fake.media_url_template
    return JSONResponse({"replies": [r.to_json(template) for r in fake.replies]})


async def _admin_deliveries(fake: FakeX, request: Request) -> Response:
    return JSONResponse({"deliveries": [_delivery_json(d) for d in fake.deliveries]})


async def _admin_create_post(fake: FakeX, request: Request) -> Response:
    body = await _admin_json(request)
    try:
        post_id = fake.create_post(
            str(body["author_handle"]), str(body["text"]), _photos(body), body.get("in_reply_to")
        )
    except (KeyError, ValueError) as exc:
        return JSONResponse({"error": str(exc)}, 400)
    return JSONResponse({"post_id": post_id}, 201)


async def _admin_mention(fake: FakeX, request: Request) -> Response:
    body = await _admin_json(request)
    try:
        result = await run_in_threadpool(
            fake.mention,
            str(body["author_handle"]),
            str(body["text"]),
            _photos(body),
            body.get("in_reply_to"),
            body.get("envelope"),
        )
    except (KeyError, ValueError, RuntimeError) as exc:
        return JSONResponse({"error": str(exc)}, 400)
    return JSONResponse(_delivery_json(result), 201)


async def _admin_fault(fake: FakeX, request: Request) -> Response:
    body = await _admin_json(request)
    kind = str(body.get("kind"))
    if kind not in ("429", "500", "503", "slow", "drop"):
        return JSONResponse({"error": "kind must be 429, 500, 503, slow or drop"}, 400)
    fake.inject_fault(
        str(body.get("path", "*")),
        kind,  # type: ignore[arg-type]
        int(body.get("count", 1)),
        delay_s=float(body.get("delay_s", 0.0)),
        reset_after_s=float(body.get("reset_after_s", 60.0)),
        method=body.get("method"),
    )
    return JSONResponse({"ok": True})


async def _admin_webhook(fake: FakeX, request: Request) -> Response:
    body = await _admin_json(request)
    try:
        await run_in_threadpool(fake.register_webhook, str(body["url"]))
    except (KeyError, WebhookRegistrationError) as exc:
        return JSONResponse({"error": str(exc)}, 400)
    return JSONResponse({"url": body["url"], "valid": True})


async def _admin_json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _photos(body: dict[str, Any]) -> list[bytes]:
    return [base64.b64decode(p) for p in body.get("photos_base64") or []]


def _delivery_json(result: Any) -> dict[str, Any]:
    return {
        "post_id": result.post_id,
        "delivered": result.delivered,
        "attempts": [{"status": a.status, "error": a.error} for a in result.attempts],
    }
