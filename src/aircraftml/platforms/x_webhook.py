"""X webhook security: the challenge-response check (CRC) and delivery signatures.

Both use the same primitive: ``"sha256=" + base64(HMAC-SHA256(consumer_secret, message))``.
Because the CRC endpoint signs whatever token it is handed, an attacker could use it as a
signing oracle to forge delivery signatures; :func:`crc_response` therefore signs only
tokens of the shape X sends (``^[A-Za-z0-9+/=_-]{16,128}$``) and raises
:class:`InvalidCrcToken` for anything else (the webhook answers 400).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping

SIGNATURE_HEADER = "x-twitter-webhooks-signature"
SIGNATURE_PREFIX = "sha256="
CRC_TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9+/=_-]{16,128}\Z")

__all__ = [
    "CRC_TOKEN_PATTERN",
    "SIGNATURE_HEADER",
    "InvalidCrcToken",
    "crc_response",
    "is_valid_crc_token",
    "sign_body",
    "signature_header_value",
    "verify_signature",
]


class InvalidCrcToken(ValueError):
    """The ``crc_token`` is missing or not of the shape X sends; answer 400, sign nothing."""


def sign_body(raw: bytes, secret: str) -> str:
    """``sha256=<base64 HMAC-SHA256(secret, raw)>``, the format of CRC and delivery signatures."""
    digest = hmac.new(secret.encode("utf-8"), raw, hashlib.sha256).digest()
    return SIGNATURE_PREFIX + base64.b64encode(digest).decode("ascii")


def is_valid_crc_token(crc_token: str | None) -> bool:
    return crc_token is not None and CRC_TOKEN_PATTERN.match(crc_token) is not None


def crc_response(crc_token: str | None, consumer_secret: str) -> dict[str, str]:
    """The JSON body that answers X's ``GET ?crc_token=T``.

    Raises :class:`InvalidCrcToken` when the token is absent or has an unexpected shape.
    """
    if crc_token is None or not is_valid_crc_token(crc_token):
        raise InvalidCrcToken("crc_token is missing or not of the expected shape")
    return {"response_token": sign_body(crc_token.encode("ascii"), consumer_secret)}


def verify_signature(raw_body: bytes, header_value: str | None, consumer_secret: str) -> bool:
    """True when ``header_value`` is the signature of the raw body, compared in constant time.

    Call it on the bytes as received, before parsing the JSON. The ``sha256=`` label is
    accepted in any letter case; the base64 digest must match exactly.
    """
    if not header_value:
        return False
    label, _, digest = header_value.strip().partition("=")
    if label.lower() != "sha256" or not digest:
        return False
    expected = sign_body(raw_body, consumer_secret)
    given = SIGNATURE_PREFIX + digest
    return hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", "replace"))


def signature_header_value(headers: Mapping[str, str]) -> str | None:
    """The signature header from a plain mapping, whatever the letter case of its name.

    Starlette's and httpx's header objects are already case-insensitive; this serves the
    plain dicts of API Gateway events and tests.
    """
    for name, value in headers.items():
        if name.lower() == SIGNATURE_HEADER:
            return value
    return None
