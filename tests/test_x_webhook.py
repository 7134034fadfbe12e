"""CRC answers and delivery signatures (x_webhook)."""

from __future__ import annotations

import pytest

from aircraftml.platforms.x_webhook import (
    InvalidCrcToken,
    crc_response,
    sign_body,
    signature_header_value,
    verify_signature,
)

DOCS_SECRET = "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw"
BODY = b'{"for_user_id":"1000","tweet_create_events":[]}'


def test_crc_response_matches_the_docs_test_vector() -> None:
    # Given the docs' consumer secret and token / When answering the CRC
    answer = crc_response("challenge_string", DOCS_SECRET)
    # Then the response token is the documented one
    assert answer == {"response_token": "sha256=nlBfoc+sYi739ivT57rTKKl7OQM8PcJSNybJqfjoBUk="}


@pytest.mark.parametrize("token", ["a" * 16, "A-z_0+9/=" * 10 + "x" * 38, "Zm9vYmFyYmF6cXV4MTIz"])
def test_crc_accepts_tokens_of_the_shape_x_sends(token: str) -> None:
    assert crc_response(token, DOCS_SECRET)["response_token"].startswith("sha256=")


@pytest.mark.parametrize(
    "token",
    [None, "", "short", "a" * 15, "a" * 129, "has space inside!", "a" * 16 + "\n", "ünïcödé" * 3],
)
def test_crc_refuses_to_sign_anything_else(token: str | None) -> None:
    # Given a token that is missing or not of X's shape (the CRC endpoint as signing oracle)
    # When / Then nothing is signed
    with pytest.raises(InvalidCrcToken):
        crc_response(token, DOCS_SECRET)
    assert issubclass(InvalidCrcToken, ValueError)


def test_a_body_signed_with_the_consumer_secret_verifies() -> None:
    header = sign_body(BODY, DOCS_SECRET)
    assert verify_signature(BODY, header, DOCS_SECRET)


@pytest.mark.parametrize(
    ("body", "header", "secret"),
    [
        (BODY + b" ", sign_body(BODY, DOCS_SECRET), DOCS_SECRET),  # body changed
        (BODY, sign_body(BODY, "another secret"), DOCS_SECRET),  # wrong secret
        (BODY, None, DOCS_SECRET),  # header missing
        (BODY, "", DOCS_SECRET),
        (BODY, "sha256=", DOCS_SECRET),
        (BODY, sign_body(BODY, DOCS_SECRET).removeprefix("sha256="), DOCS_SECRET),  # no label
        (BODY, sign_body(BODY, DOCS_SECRET).replace("sha256=", "sha1="), DOCS_SECRET),
        (BODY, sign_body(BODY, DOCS_SECRET).swapcase().replace("SHA256=", "sha256="), DOCS_SECRET),
        (BODY, "sha256=ünïcödé", DOCS_SECRET),
    ],
)
def test_anything_but_the_exact_signature_is_refused(
    body: bytes, header: str | None, secret: str
) -> None:
    assert not verify_signature(body, header, secret)


def test_the_sha256_label_may_come_in_any_case() -> None:
    header = sign_body(BODY, DOCS_SECRET).replace("sha256=", "SHA256=")
    assert verify_signature(BODY, header, DOCS_SECRET)


@pytest.mark.parametrize(
    "name",
    [
        "x-twitter-webhooks-signature",
        "X-Twitter-Webhooks-Signature",
        "X-TWITTER-WEBHOOKS-SIGNATURE",
    ],
)
def test_the_signature_header_is_found_whatever_the_case_of_its_name(name: str) -> None:
    # Given plain-dict headers as API Gateway hands them over
    headers = {"Content-Type": "application/json", name: sign_body(BODY, DOCS_SECRET)}
    # When / Then the header is found and verifies
    assert verify_signature(BODY, signature_header_value(headers), DOCS_SECRET)


def test_no_signature_header_means_not_verified() -> None:
    assert signature_header_value({"content-type": "application/json"}) is None
    assert not verify_signature(BODY, signature_header_value({}), DOCS_SECRET)
