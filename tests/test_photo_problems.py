"""A photo we did not read because of our own limits or its host is not called damaged: the
reply says what happened, and the log keeps the real reason. Real X client, real fake X."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from aircraftml.domain import Request
from aircraftml.handler import Handler
from aircraftml.platforms.fake_x import FakeX, FakeXServer
from aircraftml.platforms.x import XClient
from aircraftml.platforms.x_auth import OAuth1
from aircraftml.platforms.x_text import weighted_length
from aircraftml.reply import UNREADABLE_TEXT
from aircraftml.state.memory import MemoryStateStore
from e2e_support import fast_fake_x, jpeg

# X refuses a user the same reply text twice: each test mentions as its own user.
_AUTHORS = (f"user{n}" for n in itertools.count())


class NoRecognizer:
    """The photos of these tests never get as far as recognition."""

    def recognize_bytes(self, data: bytes) -> Any:
        raise AssertionError("a refused photo must not be decoded")


@pytest.fixture(scope="module")
def fake_x() -> Iterator[tuple[FakeX, FakeXServer]]:
    fake = fast_fake_x()
    with FakeXServer(fake) as server:
        yield fake, server


def answer_mention(fake: FakeX, server: FakeXServer, **client_options: Any) -> str:
    """Post a mention with a photo on the fake, handle it, return the reply's text."""
    author = next(_AUTHORS)
    post_id = fake.create_post(author, "@aircraftml what is this?", [jpeg()])
    config = fake.config
    options: dict[str, Any] = {
        "media_hosts": ("127.0.0.1",),
        "allow_insecure_media_for_testing": True,
        **client_options,
    }
    auth = OAuth1(
        config.consumer_key,
        config.consumer_secret,
        config.access_token,
        config.access_token_secret,
    )
    with XClient(auth, base_url=server.base_url, **options) as x:
        recognizer: Any = NoRecognizer()
        handler = Handler(x, MemoryStateStore(), recognizer, weighted_length=weighted_length)
        handler.handle(Request("x", post_id, fake.user(author).id, author, "what is this?"))
    [reply] = [r for r in fake.replies if r.in_reply_to_id == post_id]
    return reply.text


@pytest.mark.parametrize(
    ("client_options", "said", "logged"),
    [
        ({"allow_insecure_media_for_testing": False}, "isn't hosted where", "only https"),
        ({"media_hosts": ("pbs.twimg.com",)}, "isn't hosted where", "not an X media host"),
        ({"photo_max_bytes": 100}, "larger than I can take", "above 100"),
    ],
    ids=["http refused", "host not allowed", "too large"],
)
def test_a_photo_refused_by_our_policy_is_not_called_damaged(
    fake_x: tuple[FakeX, FakeXServer],
    caplog: pytest.LogCaptureFixture,
    client_options: dict[str, Any],
    said: str,
    logged: str,
) -> None:
    # Given a bot whose settings refuse the fake's photo
    with caplog.at_level(logging.WARNING, logger="aircraftml.handler"):
        # When it answers a mention with that photo
        text = answer_mention(*fake_x, **client_options)
    # Then the reply says what happened, not that the photo is damaged
    assert said in text and UNREADABLE_TEXT not in text
    # And the log names the real reason with the post
    assert logged in caplog.text and "post " in caplog.text


def test_a_photo_that_takes_too_long_is_said_to_take_too_long(
    fake_x: tuple[FakeX, FakeXServer],
) -> None:
    # Given a photo host that answers after 2 s, and a 0.5 s photo limit
    fake, server = fake_x
    fake.inject_fault("/media/*", "slow", delay_s=2.0)
    # When the mention is answered
    text = answer_mention(fake, server, photo_timeout_s=0.5)
    # Then the reply says the download took too long
    assert "took too long to download" in text
