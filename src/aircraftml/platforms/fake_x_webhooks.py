"""The fake's webhook management, as X's V2 Webhooks, Account Activity and X Activity API docs
describe it: ``/2/webhooks`` (app-only bearer token only; https URLs without a port; the CRC
check on creation and on ``PUT``), Account Activity subscriptions (the user subscribes
themself; the app lists and removes), X Activity subscriptions (``post.mention.create`` is
private: the user's OAuth 2.0 token), and the OAuth 2.0 refresh at ``/2/oauth2/token``.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aircraftml.platforms.fake_x import WebhookRegistrationError, XProblem, forbidden
from aircraftml.platforms.fake_x_model import FakeActivitySubscription, FakeWebhook

if TYPE_CHECKING:
    from aircraftml.platforms.fake_x import FakeX

Auth = Literal["app", "user", "any"]
Handler = Callable[["FakeX", Request, bytes, "Caller"], Awaitable[tuple[int, dict[str, Any]]]]
PRIVATE_EVENTS = frozenset({"post.mention.create"})
ACTIVITY_PROPERTIES = frozenset({"event_type", "filter", "tag", "webhook_id"})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

__all__ = ["routes"]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent the request: ``app`` (app-only token), ``oauth1`` or ``oauth2`` (a user)."""

    kind: str
    user_id: str | None = None


def routes(fake: FakeX) -> list[Route]:
    def api(auth: Auth, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await _serve(fake, auth, handler, request)

        return endpoint

    aa = "/2/account_activity/webhooks/{webhook_id}/subscriptions"
    return [
        Route("/2/webhooks", api("app", _create_webhook), methods=["POST"]),
        Route("/2/webhooks", api("app", _list_webhooks), methods=["GET"]),
        Route("/2/webhooks/{webhook_id}", api("app", _validate_webhook), methods=["PUT"]),
        Route("/2/webhooks/{webhook_id}", api("app", _delete_webhook), methods=["DELETE"]),
        Route(f"{aa}/all", api("user", _subscribe), methods=["POST"]),
        Route(f"{aa}/all", api("user", _is_subscribed), methods=["GET"]),
        Route(f"{aa}/all/list", api("app", _subscribers), methods=["GET"]),
        Route(f"{aa}/{{user_id}}/all", api("app", _unsubscribe), methods=["DELETE"]),
        Route("/2/activity/subscriptions", api("any", _create_activity), methods=["POST"]),
        Route("/2/activity/subscriptions", api("any", _list_activity), methods=["GET"]),
        Route("/2/activity/subscriptions", api("app", _delete_activity), methods=["DELETE"]),
        Route("/2/oauth2/token", _token_endpoint(fake), methods=["POST"]),
    ]


async def _serve(fake: FakeX, auth: Auth, handler: Handler, request: Request) -> Response:
    try:
        body = await request.body()
        if auth == "app":
            fake.authenticate_app(request, body)
            caller = Caller("app")
        elif auth == "user":
            caller = Caller("user", fake.authenticate(request, body))
        else:
            caller = Caller(*fake.caller(request, body))
        status, answer = await handler(fake, request, body, caller)
    except XProblem as problem:
        return JSONResponse(problem.body, problem.status, headers=problem.headers)
    return JSONResponse(answer, status)


def _refusal(reason: str, message: str) -> XProblem:
    """X's 400 for webhook and subscription requests, with its reason (``WebhookIdInvalid``)."""
    return XProblem(
        400,
        {
            "title": "Invalid Request",
            "detail": message,
            "type": "https://api.twitter.com/2/problems/invalid-request",
            "errors": [{"message": f"{reason}: {message}"}],
        },
    )


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body or b"{}")
    except ValueError as exc:
        raise _refusal("InvalidRequest", f"The request body is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise _refusal("InvalidRequest", "The request body must be a JSON object.")
    return value


def _webhook(fake: FakeX, request: Request) -> FakeWebhook:
    webhook_id = request.path_params["webhook_id"]
    hook = fake.state.webhooks.get(webhook_id)
    if hook is None:
        raise _refusal("WebhookIdInvalid", f"The webhook_id [{webhook_id}] was not found.")
    return hook


# --- V2 Webhooks ----------------------------------------------------------------------


def check_webhook_url(url: str, allow_loopback_http: bool) -> None:
    """X's rules: https, and no port. A local fake may allow plain http on loopback."""
    parts = urllib.parse.urlsplit(url)
    if allow_loopback_http and (parts.hostname or "") in LOOPBACK_HOSTS:
        return
    if parts.scheme != "https" or not parts.hostname:
        raise _refusal("UrlValidationFailed", f"Webhook URL must use https: [{url}]")
    if parts.port is not None:
        raise _refusal("UrlValidationFailed", f"Webhook URL cannot include a port: [{url}]")


async def _create_webhook(
    fake: FakeX, request: Request, body: bytes, _: Caller
) -> tuple[int, dict[str, Any]]:
    payload = _json_object(body)
    unknown = set(payload) - {"url"}
    if unknown or not isinstance(payload.get("url"), str):
        raise _refusal("InvalidRequest", 'The body must be {"url": string}')
    url = payload["url"]
    check_webhook_url(url, fake.config.allow_insecure_webhooks_for_testing)
    try:
        hook = await run_in_threadpool(fake.add_webhook, url)
    except WebhookRegistrationError as exc:
        raise _refusal("CrcValidationFailed", str(exc)) from exc
    return 200, {"data": hook.to_json()}


async def _list_webhooks(
    fake: FakeX, request: Request, body: bytes, _: Caller
) -> tuple[int, dict[str, Any]]:
    unknown = set(request.query_params) - {"webhook_config.fields"}
    if unknown:
        raise _refusal("InvalidRequest", f"The query parameters {sorted(unknown)} are not valid")
    hooks = [hook.to_json() for hook in fake.webhooks]
    return 200, {"data": hooks, "meta": {"result_count": len(hooks)}}


async def _validate_webhook(
    fake: FakeX, request: Request, body: bytes, _: Caller
) -> tuple[int, dict[str, Any]]:
    with fake.lock:
        hook = _webhook(fake, request)
    valid = await run_in_threadpool(fake.validate_webhook, hook)
    return 200, {"data": {"valid": valid}}


async def _delete_webhook(
    fake: FakeX, request: Request, body: bytes, _: Caller
) -> tuple[int, dict[str, Any]]:
    with fake.lock:
        hook = _webhook(fake, request)
        state = fake.state
        del state.webhooks[hook.id]
        state.account_activity = {s for s in state.account_activity if s[0] != hook.id}
        state.activity = {k: v for k, v in state.activity.items() if v.webhook_id != hook.id}
    return 200, {"data": {"deleted": True}}


# --- Account Activity subscriptions ---------------------------------------------------


async def _subscribe(
    fake: FakeX, request: Request, body: bytes, caller: Caller
) -> tuple[int, dict[str, Any]]:
    with fake.lock:
        hook = _webhook(fake, request)
        key = (hook.id, str(caller.user_id))
        if key in fake.state.account_activity:
            raise _refusal("DuplicateSubscriptionFailed", "This user is already subscribed.")
        fake.state.account_activity.add(key)
    return 200, {"data": {"subscribed": True}}


async def _is_subscribed(
    fake: FakeX, request: Request, body: bytes, caller: Caller
) -> tuple[int, dict[str, Any]]:
    with fake.lock:
        hook = _webhook(fake, request)
        subscribed = (hook.id, str(caller.user_id)) in fake.state.account_activity
    return 200, {"data": {"subscribed": subscribed}}


async def _subscribers(
    fake: FakeX, request: Request, body: bytes, _: Caller
) -> tuple[int, dict[str, Any]]:
    with fake.lock:
        hook = _webhook(fake, request)
        users = sorted(u for w, u in fake.state.account_activity if w == hook.id)
    data = {
        "application_id": "fake-app",
        "webhook_id": hook.id,
        "webhook_url": hook.url,
        "subscriptions": [{"user_id": u} for u in users],
    }
    return 200, {"data": data}


async def _unsubscribe(
    fake: FakeX, request: Request, body: bytes, _: Caller
) -> tuple[int, dict[str, Any]]:
    with fake.lock:
        hook = _webhook(fake, request)
        key = (hook.id, request.path_params["user_id"])
        if key not in fake.state.account_activity:
            raise _refusal("SubscriptionNotFound", "No subscription for this user_id.")
        fake.state.account_activity.discard(key)
    return 200, {"data": {"subscribed": False}}


# --- X Activity API subscriptions -----------------------------------------------------


async def _create_activity(
    fake: FakeX, request: Request, body: bytes, caller: Caller
) -> tuple[int, dict[str, Any]]:
    payload = _json_object(body)
    if set(payload) - ACTIVITY_PROPERTIES or not {"event_type", "filter"} <= set(payload):
        raise _refusal("InvalidRequest", "event_type and filter are required; nothing else")
    event_type, user_id = payload["event_type"], str((payload["filter"] or {}).get("user_id"))
    if event_type not in PRIVATE_EVENTS:
        raise _refusal(
            "InvalidRequest", f"{event_type!r} is valid on X; the fake delivers mentions"
        )
    if caller.kind != "oauth2" or caller.user_id != user_id:
        raise forbidden(
            f"{event_type} is a private event: subscribe with the OAuth 2.0 user token of "
            f"user {user_id}, who authorised this app"
        )
    with fake.lock:
        webhook_id = payload.get("webhook_id")
        if webhook_id is not None and webhook_id not in fake.state.webhooks:
            raise _refusal("WebhookIdInvalid", f"The webhook_id [{webhook_id}] was not found.")
        sub = FakeActivitySubscription(
            fake.next_id(), event_type, user_id, webhook_id, str(payload.get("tag", ""))
        )
        fake.state.activity[sub.id] = sub
    return 200, {"data": sub.to_json()}


async def _list_activity(
    fake: FakeX, request: Request, body: bytes, _: Caller
) -> tuple[int, dict[str, Any]]:
    with fake.lock:
        subs = [sub.to_json() for sub in fake.state.activity.values()]
    return 200, {"data": subs, "meta": {"total_subscriptions": len(subs)}}


async def _delete_activity(
    fake: FakeX, request: Request, body: bytes, _: Caller
) -> tuple[int, dict[str, Any]]:
    ids = [i for i in (request.query_params.get("ids") or "").split(",") if i]
    with fake.lock:
        missing = [i for i in ids if i not in fake.state.activity]
        if not ids or missing:
            raise _refusal("SubscriptionNotFound", f"No subscriptions {missing or ids}")
        for subscription_id in ids:
            del fake.state.activity[subscription_id]
        left = len(fake.state.activity)
    return 200, {"data": {"deleted": True}, "meta": {"total_subscriptions": left}}


# --- OAuth 2.0 refresh ----------------------------------------------------------------


def _token_endpoint(fake: FakeX) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        form = urllib.parse.parse_qs((await request.body()).decode("utf-8"))
        client_id = _basic_client(request.headers.get("authorization", ""), fake)
        if client_id is None and form.get("client_id") != [fake.config.oauth2_client_id]:
            return JSONResponse({"error": "unauthorized_client"}, 401)
        tokens = None
        if form.get("grant_type") == ["refresh_token"]:
            tokens = fake.refresh_user_token((form.get("refresh_token") or [""])[0])
        if tokens is None:
            detail = "Value passed for the token was invalid."
            return JSONResponse({"error": "invalid_request", "error_description": detail}, 400)
        access, refresh = tokens
        return JSONResponse(
            {
                "token_type": "bearer",
                "expires_in": 7200,
                "access_token": access,
                "refresh_token": refresh,
                "scope": "tweet.read users.read offline.access",
            }
        )

    return endpoint


def _basic_client(header: str, fake: FakeX) -> str | None:
    if not header.lower().startswith("basic "):
        return None
    try:
        client_id, _, secret = base64.b64decode(header[6:]).decode("utf-8").partition(":")
    except ValueError:
        return None
    config = fake.config
    ok = client_id == config.oauth2_client_id and secret == config.oauth2_client_secret
    return client_id if ok else None
