"""Registering the bot's webhook with X and subscribing the bot to it (X API v2).

Two kinds of credential, kept apart:

- the app-only bearer token (``app_auth``): X's V2 Webhooks endpoints (``POST/GET/PUT/DELETE
  /2/webhooks``) take only it, as do listing and deleting Account Activity subscriptions
  and the X Activity API's subscription endpoints for public events;
- the bot's user authorisation (``user_auth``): OAuth 1.0a (or OAuth 2.0) user context to
  subscribe the bot to Account Activity (``POST .../subscriptions/all``: "the
  authenticating user" is subscribed), and OAuth 2.0 user context (``OAuth2UserToken``,
  refreshed) to subscribe it to its private X Activity event ``post.mention.create``.

Errors are mapped by ``x.map_error``, as for the bot's other calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from aircraftml.errors import PermanentError
from aircraftml.platforms.x import DEFAULT_BASE_URL, map_error

__all__ = ["ActivitySubscription", "Webhook", "XWebhookAdmin"]

MENTION_EVENT = "post.mention.create"


@dataclass(frozen=True, slots=True)
class Webhook:
    id: str
    url: str
    valid: bool
    created_at: str = ""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Webhook:
        return cls(
            str(data["id"]),
            str(data.get("url", "")),
            bool(data.get("valid")),
            str(data.get("created_at", "")),
        )


@dataclass(frozen=True, slots=True)
class ActivitySubscription:
    id: str
    event_type: str
    user_id: str
    webhook_id: str | None


class XWebhookAdmin:
    """``register``/``webhooks``/``revalidate``/``delete`` a webhook; ``subscribe``/
    ``unsubscribe`` the bot (Account Activity), ``subscribe_mentions`` (X Activity)."""

    def __init__(
        self,
        app_auth: httpx.Auth,
        user_auth: httpx.Auth | None = None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._app_auth = app_auth
        self._user_auth = user_auth
        self._http = httpx.Client(
            base_url=base_url,
            timeout=timeout_s,
            transport=transport,
            follow_redirects=False,
            headers={"User-Agent": "aircraftml"},
        )

    def __enter__(self) -> XWebhookAdmin:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._http.close()

    # --- V2 Webhooks (app-only bearer) --------------------------------------------------

    def register(self, url: str) -> Webhook:
        """``POST /2/webhooks``: X runs the CRC check against ``url`` before it answers."""
        body = self._app("POST", "/2/webhooks", f"register webhook {url}", json={"url": url})
        return Webhook.from_json(_data(body))

    def webhooks(self) -> list[Webhook]:
        params = {"webhook_config.fields": "created_at,id,url,valid"}
        body = self._app("GET", "/2/webhooks", "list webhooks", params=params)
        return [Webhook.from_json(item) for item in body.get("data") or []]

    def revalidate(self, webhook_id: str) -> bool:
        """``PUT /2/webhooks/:id``: a new CRC check, which makes an invalid webhook valid again."""
        body = self._app("PUT", f"/2/webhooks/{webhook_id}", f"revalidate webhook {webhook_id}")
        return bool(_data(body).get("valid"))

    def delete(self, webhook_id: str) -> None:
        self._app("DELETE", f"/2/webhooks/{webhook_id}", f"delete webhook {webhook_id}")

    # --- Account Activity subscriptions ---------------------------------------------------

    def subscribe(self, webhook_id: str) -> None:
        """Subscribe the user of ``user_auth`` (the bot) to the webhook's Account Activity."""
        path = f"/2/account_activity/webhooks/{webhook_id}/subscriptions/all"
        self._user("POST", path, f"subscribe to webhook {webhook_id}", json={})

    def subscribers(self, webhook_id: str) -> list[str]:
        path = f"/2/account_activity/webhooks/{webhook_id}/subscriptions/all/list"
        body = self._app("GET", path, f"list subscriptions of webhook {webhook_id}")
        return [str(s["user_id"]) for s in _data(body).get("subscriptions") or []]

    def unsubscribe(self, webhook_id: str, user_id: str) -> None:
        path = f"/2/account_activity/webhooks/{webhook_id}/subscriptions/{user_id}/all"
        self._app("DELETE", path, f"unsubscribe {user_id} from webhook {webhook_id}")

    # --- X Activity API subscriptions -------------------------------------------------------

    def subscribe_mentions(self, webhook_id: str, user_id: str, tag: str = "aircraftml") -> str:
        """Deliver ``user_id``'s mentions to the webhook; the subscription's id. A private
        event: X takes it only with the user's OAuth 2.0 authorisation (``user_auth``)."""
        payload = {
            "event_type": MENTION_EVENT,
            "filter": {"user_id": user_id},
            "tag": tag,
            "webhook_id": webhook_id,
        }
        body = self._user("POST", "/2/activity/subscriptions", "subscribe mentions", json=payload)
        data = body.get("data")
        item = data[0] if isinstance(data, list) and data else data
        if not isinstance(item, dict) or "subscription_id" not in item:
            raise PermanentError(f"subscribe mentions: no subscription_id in {body}")
        return str(item["subscription_id"])

    def activity_subscriptions(self) -> list[ActivitySubscription]:
        body = self._app("GET", "/2/activity/subscriptions", "list activity subscriptions")
        return [
            ActivitySubscription(
                str(s["subscription_id"]),
                str(s.get("event_type", "")),
                str((s.get("filter") or {}).get("user_id", "")),
                s.get("webhook_id"),
            )
            for s in body.get("data") or []
        ]

    def unsubscribe_activity(self, subscription_id: str) -> None:
        params = {"ids": subscription_id}
        self._app("DELETE", "/2/activity/subscriptions", "delete subscription", params=params)

    # --- plumbing -----------------------------------------------------------------------

    def _app(self, method: str, path: str, what: str, **kwargs: Any) -> dict[str, Any]:
        return self._request(self._app_auth, method, path, what, **kwargs)

    def _user(self, method: str, path: str, what: str, **kwargs: Any) -> dict[str, Any]:
        if self._user_auth is None:
            raise PermanentError(f"{what}: needs the bot's user authorisation")
        return self._request(self._user_auth, method, path, what, **kwargs)

    def _request(
        self, auth: httpx.Auth, method: str, path: str, what: str, **kwargs: Any
    ) -> dict[str, Any]:
        with _mapped(what):
            response = self._http.request(method, path, auth=auth, **kwargs)
        if response.is_error:
            raise map_error(response, what)
        try:
            body = response.json() if response.content else {}
        except ValueError as exc:
            raise PermanentError(f"{what}: response is not JSON") from exc
        return body if isinstance(body, dict) else {}


@contextmanager
def _mapped(what: str) -> Iterator[None]:
    try:
        yield
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise map_error(exc, what) from exc


def _data(body: dict[str, Any]) -> dict[str, Any]:
    data = body.get("data")
    return data if isinstance(data, dict) else {}
