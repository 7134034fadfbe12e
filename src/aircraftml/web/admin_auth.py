"""Who may see ``/admin``: whoever knows the admin token, proved once by a login form (then
a cookie derived from the token: HttpOnly, SameSite=Strict, /admin only) or on each request
(``Authorization: Bearer``). Forms that change something carry a CSRF token, also derived
from the admin token, checked with the cookie. Comparisons take constant time.
"""

from __future__ import annotations

import hashlib
import hmac

from starlette.requests import Request

COOKIE = "aircraftml_admin"


class AdminAuth:
    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("the admin token must not be empty")
        self._token = token.encode()
        self.session = self._derive("session")
        self.csrf = self._derive("csrf")

    def _derive(self, purpose: str) -> str:
        return hmac.new(self._token, purpose.encode(), hashlib.sha256).hexdigest()

    def token_matches(self, offered: str) -> bool:
        return hmac.compare_digest(offered.encode(), self._token)

    def signed_in(self, request: Request) -> bool:
        bearer = request.headers.get("authorization", "")
        if bearer.lower().startswith("bearer ") and self.token_matches(bearer[7:].strip()):
            return True
        return hmac.compare_digest(request.cookies.get(COOKIE, ""), self.session)

    def csrf_ok(self, offered: str) -> bool:
        return hmac.compare_digest(offered, self.csrf)

    def cookie_header(self, secure: bool) -> str:
        flags = "; Secure" if secure else ""
        return f"{COOKIE}={self.session}; Path=/admin; HttpOnly; SameSite=Strict{flags}"
