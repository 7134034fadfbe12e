"""The fake Mastodon's HTTP routes (``fakes/mastodon.py`` holds its model)."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aircraftml.fakes.mastodon import (
    IDEMPOTENCY_KEEP_S,
    IMAGE_SIZE_LIMIT,
    MAX_MEDIA_ATTACHMENTS,
    VISIBILITIES,
    FakeAccount,
    FakeMastodon,
    FakeMastodonReply,
    MastodonProblem,
    iso_time,
    reply_json,
)

Handler = Callable[[FakeMastodon, FakeAccount, Request], Awaitable[tuple[int, Any]]]


def routes(fake: FakeMastodon) -> list[Route]:
    def api(handler: Handler, group: str = "api") -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            headers: dict[str, str] = {}
            try:
                account = fake.authenticate(request)
                headers = fake.take_rate_limit(account, "api")
                if group != "api":
                    headers = fake.take_rate_limit(account, group)
                status, body = await handler(fake, account, request)
            except MastodonProblem as problem:
                return JSONResponse(
                    {"error": problem.error}, problem.status, headers=headers | problem.headers
                )
            return JSONResponse(body, status, headers=headers)

        return endpoint

    def admin(handler: Callable[[FakeMastodon, Request], Awaitable[Any]]) -> Any:
        async def endpoint(request: Request) -> Response:
            return JSONResponse(await handler(fake, request))

        return endpoint

    return [
        Route("/api/v1/accounts/verify_credentials", api(_verify), methods=["GET"]),
        Route("/api/v1/accounts/update_credentials", api(_update), methods=["PATCH"]),
        Route("/api/v2/instance", _instance(fake), methods=["GET"]),
        Route("/api/v1/notifications", api(_notifications), methods=["GET"]),
        Route("/api/v1/statuses", api(_post_status), methods=["POST"]),
        Route("/api/v1/statuses/{id}", api(_get_status), methods=["GET"]),
        Route("/api/v1/statuses/{id}/context", api(_context), methods=["GET"]),
        Route("/api/v2/media", api(_upload, "media"), methods=["POST"]),
        Route("/api/v1/media/{id}", api(_get_media), methods=["GET"]),
        Route("/system/media/{name}", _photo(fake), methods=["GET"]),
        Route("/_fake/replies", admin(_admin_replies), methods=["GET"]),
        Route("/_fake/mention", admin(_admin_mention), methods=["POST"]),
        Route("/_fake/faults", admin(_admin_fault), methods=["POST"]),
    ]


async def _verify(fake: FakeMastodon, me: FakeAccount, request: Request) -> tuple[int, Any]:
    with fake.lock:
        return 200, me.json(fake.base_url)


async def _update(fake: FakeMastodon, me: FakeAccount, request: Request) -> tuple[int, Any]:
    form = await request.form()
    with fake.lock:
        if "bot" in form:
            me.bot = str(form["bot"]).lower() in ("true", "1")
        return 200, me.json(fake.base_url)


def _instance(fake: FakeMastodon) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return JSONResponse(
            {
                "domain": "127.0.0.1",
                "version": "4.3.0 (compatible; fake)",
                "configuration": {
                    "statuses": {
                        "max_characters": fake.config.max_characters,
                        "max_media_attachments": MAX_MEDIA_ATTACHMENTS,
                        "characters_reserved_per_url": 23,
                    },
                    "media_attachments": {
                        "supported_mime_types": ["image/jpeg", "image/png", "image/webp"],
                        "image_size_limit": IMAGE_SIZE_LIMIT,
                    },
                },
            }
        )

    return endpoint


async def _notifications(fake: FakeMastodon, me: FakeAccount, request: Request) -> tuple[int, Any]:
    query = request.query_params
    types = query.getlist("types[]")
    limit = min(_int(query.get("limit"), 40, "limit"), 80)
    min_id, since_id, max_id = (query.get(name) for name in ("min_id", "since_id", "max_id"))
    with fake.lock:
        state = fake.state
        rows = [row for row in state.notifications if me.id == fake.bot.id]
        if types and "mention" not in types:
            rows = []
        after = min_id or since_id
        if after:
            rows = [row for row in rows if int(row[0]) > _int(after, 0, "min_id")]
        if max_id:
            rows = [row for row in rows if int(row[0]) < _int(max_id, 0, "max_id")]
        rows.sort(key=lambda row: int(row[0]))
        # min_id: the page just above the cursor; otherwise the newest page
        rows = rows[:limit] if min_id else rows[-limit:]
        body = [
            {
                "id": notification_id,
                "type": "mention",
                "created_at": iso_time(fake.status(status_id).created_at),
                "account": state.accounts[account_id].json(fake.base_url),
                "status": fake._status_json(state.statuses[status_id]),
            }
            for notification_id, account_id, status_id in reversed(rows)
        ]
    return 200, body


async def _get_status(fake: FakeMastodon, me: FakeAccount, request: Request) -> tuple[int, Any]:
    with fake.lock:
        status = fake.state.statuses.get(request.path_params["id"])
        if status is None or not fake._can_see(me, status):
            raise MastodonProblem(404, "Record not found")
        return 200, fake._status_json(status)


async def _context(fake: FakeMastodon, me: FakeAccount, request: Request) -> tuple[int, Any]:
    _, status = await _get_status(fake, me, request)
    with fake.lock:
        statuses = fake.state.statuses
        descendants, frontier = [], {status["id"]}
        for candidate in sorted(statuses.values(), key=lambda s: int(s.id)):
            if candidate.in_reply_to_id in frontier and fake._can_see(me, candidate):
                descendants.append(fake._status_json(candidate))
                frontier.add(candidate.id)
        return 200, {"ancestors": [], "descendants": descendants}


async def _post_status(fake: FakeMastodon, me: FakeAccount, request: Request) -> tuple[int, Any]:
    params = await _params(request)
    key = request.headers.get("idempotency-key")
    with fake.lock:
        now = fake.now()
        if key and (kept := fake.state.idempotency.get((me.id, key))) and kept[0] > now:
            return 200, kept[1]
        text = str(params.get("status") or "")
        media_ids = [str(m) for m in params.get("media_ids") or []]
        visibility = str(params.get("visibility") or "public")
        parent_id = params.get("in_reply_to_id")
        _check_status(fake, me, text, media_ids, visibility, parent_id)
        status = fake._new_status(
            me, text, visibility, str(parent_id) if parent_id else None, tuple(media_ids)
        )
        body = fake._status_json(status)
        if key:
            fake.state.idempotency[(me.id, key)] = (now + IDEMPOTENCY_KEEP_S, body)
        if me.id == fake.bot.id:
            media = tuple(fake.state.media[m] for m in media_ids)
            reply = FakeMastodonReply(
                status.id, status.in_reply_to_id, text, visibility, media, key
            )
            fake.state.replies.append(reply)
            if fake.config.on_reply is not None:
                fake.config.on_reply(reply)
        return 200, body


def _check_status(
    fake: FakeMastodon,
    me: FakeAccount,
    text: str,
    media_ids: list[str],
    visibility: str,
    parent_id: Any,
) -> None:
    from aircraftml.platforms.mastodon.text import length

    if not text.strip() and not media_ids:
        raise MastodonProblem(422, "Validation failed: Text can't be blank")
    if length(text) > fake.config.max_characters:
        limit = fake.config.max_characters
        raise MastodonProblem(422, f"Validation failed: Text character limit of {limit} exceeded")
    if visibility not in VISIBILITIES:
        raise MastodonProblem(422, "Validation failed: Visibility is not included in the list")
    if len(media_ids) > MAX_MEDIA_ATTACHMENTS:
        raise MastodonProblem(422, "Validation failed: Media attachments is too long")
    for media_id in media_ids:
        media = fake.state.media.get(media_id)
        if media is None or media.owner_id != me.id:
            raise MastodonProblem(422, "Validation failed: Media attachments is invalid")
        if fake.now() < media.ready_at:
            raise MastodonProblem(
                422, "Cannot attach files that have not finished processing. Try again in a moment!"
            )
    if parent_id is not None:
        parent = fake.state.statuses.get(str(parent_id))
        if parent is None or not fake._can_see(me, parent):
            raise MastodonProblem(404, "Record not found")


async def _upload(fake: FakeMastodon, me: FakeAccount, request: Request) -> tuple[int, Any]:
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise MastodonProblem(422, "Validation failed: File can't be blank")
    data = await upload.read()
    if len(data) > IMAGE_SIZE_LIMIT:
        raise MastodonProblem(422, "Validation failed: File file size must be less than 16 MB")
    from aircraftml.platforms.fake_x_model import sniff_image_mime

    if sniff_image_mime(data) is None:
        raise MastodonProblem(
            422, "Validation failed: File has contents that are not what they are reported to be"
        )
    with fake.lock:
        ready_at = fake.now() + fake.config.media_processing_s
        media = fake._store_media(me.id, data, str(form.get("description") or ""), ready_at)
        processing = fake.config.media_processing_s > 0
        return (202 if processing else 200), fake._media_json(media)


async def _get_media(fake: FakeMastodon, me: FakeAccount, request: Request) -> tuple[int, Any]:
    with fake.lock:
        media = fake.state.media.get(request.path_params["id"])
        if media is None or media.owner_id != me.id:
            raise MastodonProblem(404, "Record not found")
        body = fake._media_json(media)
        return (206 if body["url"] is None else 200), body


def _photo(fake: FakeMastodon) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        media_id = request.path_params["name"].rsplit(".", 1)[0]
        with fake.lock:
            media = fake.state.media.get(media_id)
        if media is None:
            return Response(status_code=404)
        return Response(media.data, media_type=media.mime)

    return endpoint


async def _admin_replies(fake: FakeMastodon, request: Request) -> Any:
    return [reply_json(r) for r in fake.replies]


async def _admin_mention(fake: FakeMastodon, request: Request) -> Any:
    body = json.loads(await request.body() or b"{}")
    photos = [base64.b64decode(p) for p in body.get("photos_base64", [])]
    status_id = fake.create_status(
        str(body.get("author", "someone")),
        str(body.get("text", f"@{fake.bot.username}")),
        photos,
        visibility=str(body.get("visibility", "public")),
        in_reply_to_id=body.get("in_reply_to_id"),
        bot=bool(body.get("bot", False)),
        note=str(body.get("note", "")),
    )
    return {"id": status_id}


async def _admin_fault(fake: FakeMastodon, request: Request) -> Any:
    body = json.loads(await request.body() or b"{}")
    fake.inject_fault(
        str(body.get("path", "/api/*")),
        body.get("kind", "503"),
        count=int(body.get("count", 1)),
        delay_s=float(body.get("delay_s", 0.0)),
    )
    return {"ok": True}


async def _params(request: Request) -> dict[str, Any]:
    """A status's parameters, as JSON or as a form (``media_ids[]``)."""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = json.loads(await request.body())
        except ValueError:
            raise MastodonProblem(400, "Malformed JSON") from None
        if not isinstance(body, dict):
            raise MastodonProblem(400, "Malformed JSON")
        return body
    form = await request.form()
    params: dict[str, Any] = {k: v for k, v in form.items() if not k.endswith("[]")}
    params["media_ids"] = form.getlist("media_ids[]")
    return params


def _int(value: str | None, default: int, name: str) -> int:
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise MastodonProblem(400, f"{name} must be a number") from None
