"""The fake Bluesky's XRPC routes (``fakes/bluesky.py`` holds its model)."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aircraftml.fakes.bluesky import (
    MAX_BLOB_BYTES,
    POST,
    PROFILE,
    FakeBluesky,
    FakeBlueskyReply,
    FakeBskyAccount,
    XrpcProblem,
)
from aircraftml.platforms.bluesky.text import MAX_BYTES, MAX_GRAPHEMES, graphemes
from aircraftml.platforms.fake_x_model import sniff_image_mime

Method = Callable[[FakeBluesky, FakeBskyAccount, Request], Awaitable[dict[str, Any]]]


def app(fake: FakeBluesky) -> Starlette:
    def xrpc(method: Method) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            headers: dict[str, str] = {}
            try:
                account = _authenticate(fake, request, "access")
                headers = fake.take_rate_limit(account.did, "api")
                body = await method(fake, account, request)
            except XrpcProblem as problem:
                error = {"error": problem.error, "message": problem.message}
                return JSONResponse(error, problem.status, headers=headers | problem.headers)
            return JSONResponse(body, headers=headers)

        return endpoint

    def session(handler: Callable[[FakeBluesky, Request], Awaitable[dict[str, Any]]]) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                return JSONResponse(await handler(fake, request))
            except XrpcProblem as problem:
                error = {"error": problem.error, "message": problem.message}
                return JSONResponse(error, problem.status, headers=problem.headers)

        return endpoint

    def admin(handler: Callable[[FakeBluesky, Request], Awaitable[Any]]) -> Any:
        async def endpoint(request: Request) -> Response:
            return JSONResponse(await handler(fake, request))

        return endpoint

    x = "/xrpc/"
    return Starlette(
        routes=[
            Route(
                x + "com.atproto.server.createSession", session(_create_session), methods=["POST"]
            ),
            Route(
                x + "com.atproto.server.refreshSession", session(_refresh_session), methods=["POST"]
            ),
            Route(
                x + "app.bsky.notification.listNotifications", xrpc(_notifications), methods=["GET"]
            ),
            Route(x + "app.bsky.feed.getPosts", xrpc(_get_posts), methods=["GET"]),
            Route(x + "com.atproto.repo.uploadBlob", xrpc(_upload_blob), methods=["POST"]),
            Route(x + "com.atproto.repo.createRecord", xrpc(_create_record), methods=["POST"]),
            Route(x + "com.atproto.repo.putRecord", xrpc(_put_record), methods=["POST"]),
            Route(x + "com.atproto.repo.getRecord", xrpc(_get_record), methods=["GET"]),
            Route("/img/feed_fullsize/plain/{did}/{name}", _image(fake), methods=["GET"]),
            Route("/_fake/replies", admin(_admin_replies), methods=["GET"]),
            Route("/_fake/mention", admin(_admin_mention), methods=["POST"]),
            Route("/_fake/faults", admin(_admin_fault), methods=["POST"]),
        ]
    )


def _authenticate(fake: FakeBluesky, request: Request, kind: str) -> FakeBskyAccount:
    header = request.headers.get("authorization", "")
    token = header[7:] if header.lower().startswith("bearer ") else ""
    with fake.lock:
        found = fake.state.tokens.get(token)
        if found is None or found[0] != kind:
            raise XrpcProblem(401, "InvalidToken", "Token could not be verified")
        if found[2] <= fake.now():
            raise XrpcProblem(400, "ExpiredToken", "Token has expired")
        return fake.state.accounts[found[1]]


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise XrpcProblem(400, "InvalidRequest", "Request body is not JSON") from None
    if not isinstance(body, dict):
        raise XrpcProblem(400, "InvalidRequest", "Request body must be an object")
    return body


async def _create_session(fake: FakeBluesky, request: Request) -> dict[str, Any]:
    body = await _json(request)
    identifier, password = str(body.get("identifier", "")), str(body.get("password", ""))
    with fake.lock:
        for account in fake.state.accounts.values():
            if identifier in (account.handle, account.did):
                fake.take_rate_limit(account.did, "session")
                if secrets.compare_digest(account.password, password):
                    return fake.issue_tokens(account.did)
        raise XrpcProblem(401, "AuthenticationRequired", "Invalid identifier or password")


async def _refresh_session(fake: FakeBluesky, request: Request) -> dict[str, Any]:
    account = _authenticate(fake, request, "refresh")
    with fake.lock:
        token = request.headers["authorization"][7:]
        del fake.state.tokens[token]  # a refresh token is used once
        return fake.issue_tokens(account.did)


async def _notifications(
    fake: FakeBluesky, me: FakeBskyAccount, request: Request
) -> dict[str, Any]:
    limit = min(int(request.query_params.get("limit", "50")), 100)
    cursor = request.query_params.get("cursor")
    with fake.lock:
        rows = [
            (fake.state.records[uri], reason, did)
            for uri, reason, did in fake.state.notifications
            if me.did == fake.bot.did and uri in fake.state.records
        ]
        rows.sort(key=lambda row: (row[0].indexed_at, row[0].uri), reverse=True)
        if cursor:
            rows = [
                row for row in rows if (row[0].indexed_at, row[0].uri) < tuple(cursor.split("|", 1))
            ]
        page = rows[:limit]
        notifications = [
            {
                "uri": record.uri,
                "cid": record.cid,
                "author": fake.state.accounts[did].view(),
                "reason": reason,
                "record": record.value,
                "isRead": False,
                "indexedAt": record.indexed_at,
            }
            for record, reason, did in page
        ]
    body: dict[str, Any] = {"notifications": notifications}
    if len(page) == limit:
        body["cursor"] = f"{page[-1][0].indexed_at}|{page[-1][0].uri}"
    return body


async def _get_posts(fake: FakeBluesky, me: FakeBskyAccount, request: Request) -> dict[str, Any]:
    uris = request.query_params.getlist("uris")
    with fake.lock:
        records = [fake.state.records[uri] for uri in uris if uri in fake.state.records]
        return {"posts": [fake.post_view(record) for record in records]}


async def _upload_blob(fake: FakeBluesky, me: FakeBskyAccount, request: Request) -> dict[str, Any]:
    data = await request.body()
    if len(data) > MAX_BLOB_BYTES:
        raise XrpcProblem(
            400,
            "BlobTooLarge",
            f"This file is too large: {len(data)} bytes, above {MAX_BLOB_BYTES}.",
        )
    if sniff_image_mime(data) is None:
        raise XrpcProblem(400, "InvalidMimeType", "Blob is not an image")
    with fake.lock:
        return {"blob": fake.store_blob(data)}


async def _create_record(
    fake: FakeBluesky, me: FakeBskyAccount, request: Request
) -> dict[str, Any]:
    body = await _json(request)
    if body.get("repo") not in (me.did, me.handle):
        raise XrpcProblem(400, "InvalidRequest", "Input/repo must be the session's account")
    collection, value = str(body.get("collection")), body.get("record")
    if collection != POST or not isinstance(value, dict):
        raise XrpcProblem(400, "InvalidRequest", f"Invalid {collection} record")
    with fake.lock:
        rkey = str(body.get("rkey") or fake.next_rkey())
        uri = f"at://{me.did}/{collection}/{rkey}"
        if uri in fake.state.records:
            raise XrpcProblem(400, "InvalidRequest", f"Record already exists: {uri}")
        _check_post(fake, value)
        record = fake.put(me, collection, rkey, value)
        if me.did == fake.bot.did:
            _record_reply(fake, record.uri, rkey, value)
        return {"uri": record.uri, "cid": record.cid}


def _check_post(fake: FakeBluesky, value: dict[str, Any]) -> None:
    text = str(value.get("text", ""))
    if graphemes(text) > MAX_GRAPHEMES or len(text.encode()) > MAX_BYTES:
        raise XrpcProblem(
            400,
            "InvalidRequest",
            f"Invalid app.bsky.feed.post record: Record/text is over {MAX_GRAPHEMES} graphemes",
        )
    reply = value.get("reply")
    if reply is not None:
        for ref in ("root", "parent"):
            target = (reply.get(ref) or {}) if isinstance(reply, dict) else {}
            known = fake.state.records.get(str(target.get("uri")))
            if known is None or known.cid != target.get("cid"):
                raise XrpcProblem(400, "InvalidRequest", f"Invalid reply {ref}: post not found")
    encoded = text.encode()
    for facet in value.get("facets") or []:
        index = facet.get("index") or {}
        start, end = index.get("byteStart", -1), index.get("byteEnd", -1)
        if not (0 <= start < end <= len(encoded)):
            raise XrpcProblem(400, "InvalidRequest", "Invalid facet byte range")
    images = ((value.get("embed") or {}).get("images")) or []
    if len(images) > 4:
        raise XrpcProblem(
            400, "InvalidRequest", "Record/embed/images must not have more than 4 elements"
        )
    for image in images:
        if image.get("image", {}).get("ref", {}).get("$link") not in fake.state.blobs:
            raise XrpcProblem(400, "InvalidRequest", "Could not find blob")


def _record_reply(fake: FakeBluesky, uri: str, rkey: str, value: dict[str, Any]) -> None:
    reply = value.get("reply") or {}
    images = tuple(
        (
            fake.state.blobs[i["image"]["ref"]["$link"]][0],
            str(i.get("alt", "")),
            i.get("aspectRatio") or {},
        )
        for i in (value.get("embed") or {}).get("images") or []
    )
    recorded = FakeBlueskyReply(
        uri,
        rkey,
        str((reply.get("parent") or {}).get("uri", "")),
        str((reply.get("root") or {}).get("uri", "")),
        str(value.get("text", "")),
        tuple(value.get("facets") or []),
        images,
    )
    fake.state.replies.append(recorded)
    if fake.config.on_reply is not None:
        fake.config.on_reply(recorded)


async def _put_record(fake: FakeBluesky, me: FakeBskyAccount, request: Request) -> dict[str, Any]:
    body = await _json(request)
    if body.get("repo") not in (me.did, me.handle) or body.get("collection") != PROFILE:
        raise XrpcProblem(400, "InvalidRequest", "only the session's own profile can be put here")
    value = body.get("record") or {}
    with fake.lock:
        labels = [v.get("val") for v in (value.get("labels") or {}).get("values", [])]
        me.labels = [str(label) for label in labels if label]
        record = fake.put(me, PROFILE, str(body.get("rkey", "self")), value)
        return {"uri": record.uri, "cid": record.cid}


async def _get_record(fake: FakeBluesky, me: FakeBskyAccount, request: Request) -> dict[str, Any]:
    query = request.query_params
    repo = str(query.get("repo"))
    with fake.lock:
        did = next((a.did for a in fake.state.accounts.values() if repo in (a.did, a.handle)), repo)
        uri = f"at://{did}/{query.get('collection')}/{query.get('rkey')}"
        record = fake.state.records.get(uri)
        if record is None:
            raise XrpcProblem(400, "RecordNotFound", f"Could not locate record: {uri}")
        return {"uri": record.uri, "cid": record.cid, "value": record.value}


def _image(fake: FakeBluesky) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        cid = request.path_params["name"].split("@", 1)[0]
        with fake.lock:
            blob = fake.state.blobs.get(cid)
        if blob is None:
            return Response(status_code=404)
        return Response(blob[0], media_type=blob[1])

    return endpoint


async def _admin_replies(fake: FakeBluesky, request: Request) -> Any:
    return [
        {"uri": r.uri, "parent": r.parent_uri, "text": r.text, "alts": [i[1] for i in r.images]}
        for r in fake.replies
    ]


async def _admin_mention(fake: FakeBluesky, request: Request) -> Any:
    body = json.loads(await request.body() or b"{}")
    uri = fake.create_post(
        str(body.get("author", "someone.bsky.social")),
        str(body.get("text", f"@{fake.bot.handle}")),
        [base64.b64decode(p) for p in body.get("photos_base64", [])],
        reply_to=body.get("reply_to"),
        bot=bool(body.get("bot", False)),
        description=str(body.get("description", "")),
    )
    return {"uri": uri}


async def _admin_fault(fake: FakeBluesky, request: Request) -> Any:
    body = json.loads(await request.body() or b"{}")
    fake.inject_fault(
        str(body.get("path", "/xrpc/*")),
        body.get("kind", "503"),
        count=int(body.get("count", 1)),
        delay_s=float(body.get("delay_s", 0.0)),
    )
    return {"ok": True}
