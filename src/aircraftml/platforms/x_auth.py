"""Authentication for the X API: OAuth 1.0a user context (HMAC-SHA1), OAuth 2 bearer tokens
(app-only, or a user's with refresh).

Signing uses Authlib's RFC 5849 primitives (base string, HMAC-SHA1, header rendering).
Authlib's own ``httpx_client.OAuth1Auth`` is not used on purpose: for a JSON or multipart
request it sends an empty body (its ``prepare`` drops non-form bodies), and with
``force_include_body`` it adds an ``oauth_body_hash``. X signs only the method, the URL
without its query, the query, a form-encoded body and the ``oauth_*`` parameters; a JSON
or multipart body is never part of the base string.
"""

from __future__ import annotations

import base64
import secrets
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Generator, Sequence

import httpx
from authlib.oauth1.rfc5849.parameters import prepare_headers
from authlib.oauth1.rfc5849.signature import construct_base_string, hmac_sha1_signature

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"

__all__ = [
    "BearerToken",
    "OAuth1",
    "OAuth2UserToken",
    "oauth1_signature",
    "parse_oauth_header",
    "signed_params",
]

Params = Sequence[tuple[str, str]]


def oauth1_signature(
    method: str, url: str, params: Params, consumer_secret: str, token_secret: str
) -> str:
    """The base64 HMAC-SHA1 signature of a request; ``params`` are query + form + oauth_*.

    The query string of ``url`` is ignored here: pass its parameters in ``params``.
    """
    base = construct_base_string(method, url, list(params))
    return str(hmac_sha1_signature(base, consumer_secret, token_secret))


def signed_params(request: httpx.Request) -> list[tuple[str, str]]:
    """The request parameters that take part in the signature: query and form body."""
    params = urllib.parse.parse_qsl(request.url.query.decode("ascii"), keep_blank_values=True)
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() == FORM_CONTENT_TYPE:
        params += urllib.parse.parse_qsl(request.content.decode("utf-8"), keep_blank_values=True)
    return params


def parse_oauth_header(value: str) -> dict[str, str]:
    """``OAuth k="v", ...`` -> ``{k: v}`` with values percent-decoded; {} if not OAuth."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "oauth":
        return {}
    pairs = urllib.request.parse_keqv_list(urllib.request.parse_http_list(rest))
    return {key: urllib.parse.unquote(val) for key, val in pairs.items()}


class OAuth1(httpx.Auth):
    """OAuth 1.0a user context for httpx: signs every request, leaves its body untouched."""

    requires_request_body = True

    def __init__(
        self,
        consumer_key: str,
        consumer_secret: str,
        access_token: str,
        access_token_secret: str,
        *,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = lambda: secrets.token_hex(16),
    ) -> None:
        self.consumer_key = consumer_key
        self._consumer_secret = consumer_secret
        self.access_token = access_token
        self._access_token_secret = access_token_secret
        self._clock = clock
        self._nonce = nonce

    def __repr__(self) -> str:
        return f"OAuth1(consumer_key={self.consumer_key!r}, access_token=<hidden>)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        url = str(request.url.copy_with(query=None))
        request.headers["Authorization"] = self.authorization(
            request.method, url, signed_params(request)
        )
        yield request

    def authorization(
        self,
        method: str,
        url: str,
        params: Params = (),
        *,
        nonce: str | None = None,
        timestamp: str | None = None,
    ) -> str:
        """The ``Authorization`` header value for one request."""
        oauth = [
            ("oauth_consumer_key", self.consumer_key),
            ("oauth_nonce", nonce or self._nonce()),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", timestamp or str(int(self._clock()))),
            ("oauth_token", self.access_token),
            ("oauth_version", "1.0"),
        ]
        signature = oauth1_signature(
            method,
            url,
            [*params, *oauth],
            self._consumer_secret,
            self._access_token_secret,
        )
        headers = prepare_headers([*oauth, ("oauth_signature", signature)], {})
        return str(headers["Authorization"])


class BearerToken(httpx.Auth):
    """OAuth 2 bearer token (a user token with ``tweet.write`` and ``media.write``)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:
        return "BearerToken(<hidden>)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


TokenSaver = Callable[[str, str], None]  # (access_token, refresh_token) -> None


class OAuth2UserToken(httpx.Auth):
    """OAuth 2.0 user context (a user's access token), refreshed when X answers 401.

    X requires it where the app acts for a user without OAuth 1.0a, e.g. to subscribe the
    bot to its private X Activity events (``post.mention.create``). The refresh is X's
    ``POST /2/oauth2/token`` with ``grant_type=refresh_token``; a confidential client
    authenticates with HTTP Basic (``client_id:client_secret``). X rotates the refresh
    token on each use, so ``on_refresh`` is told both new tokens (store them).
    """

    requires_response_body = True

    def __init__(
        self,
        access_token: str,
        refresh_token: str,
        client_id: str,
        client_secret: str | None = None,
        *,
        token_url: str = "https://api.x.com/2/oauth2/token",
        on_refresh: TokenSaver | None = None,
    ) -> None:
        self._access_token = access_token
        self._refresh_token = refresh_token
        self._client_id = client_id
        self._client_secret = client_secret
        self._token_url = token_url
        self._on_refresh = on_refresh

    def __repr__(self) -> str:
        return f"OAuth2UserToken(client_id={self._client_id!r}, tokens=<hidden>)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._access_token}"
        response = yield request
        if response.status_code != 401 or not self._refresh_token:
            return
        refreshed = yield self._refresh_request()
        if refreshed.status_code != 200:
            return  # the caller sees the first 401
        self._store(refreshed.json())
        request.headers["Authorization"] = f"Bearer {self._access_token}"
        yield request

    def _refresh_request(self) -> httpx.Request:
        form = {"grant_type": "refresh_token", "refresh_token": self._refresh_token}
        headers = {"Content-Type": FORM_CONTENT_TYPE}
        if self._client_secret is None:
            form["client_id"] = self._client_id
        else:
            pair = f"{self._client_id}:{self._client_secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        return httpx.Request("POST", self._token_url, data=form, headers=headers)

    def _store(self, body: dict[str, object]) -> None:
        self._access_token = str(body["access_token"])
        self._refresh_token = str(body.get("refresh_token") or self._refresh_token)
        if self._on_refresh is not None:
            self._on_refresh(self._access_token, self._refresh_token)
