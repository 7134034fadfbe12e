"""Answer one mention: claim it, fetch its photos, recognise the aircraft, reply, mark it done.

The same code runs inside ``aircraftml serve``, ``aircraftml worker`` and the Lambda function.
It never replies twice to one post:

- the post's idempotency key is claimed first; a key already DONE means the reply exists;
- a key IN_PROGRESS belongs to a live worker (or one that died: its claim expires after
  ``claim_ttl_s``), so the request waits until that claim ends (``Busy``), spending no try:
  a redelivery racing a dead worker's claim is answered once the claim runs out;
- if a worker crashes after posting but before marking the key done, the redelivered request
  composes the same text again and X refuses it as duplicate content, which counts as done.

A rate limit is the whole pool's: the first worker refused records "rate limited until T"
in the state store (``pause``), and every worker honours it before posting (and before
taking work: ``Worker``), so a backlog waits for the window instead of each message
spending its tries on 429s.

Errors are not caught here except to release the claim and record a rate limit: the worker
maps them onto the queue (retry, wait for the rate-limit reset, or dead-letter).
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aircraftml.domain import Request
from aircraftml.errors import DuplicateContent, PhotoError, RateLimited, TransientError
from aircraftml.platforms.base import Platform, ReplyImage
from aircraftml.reply import PhotoOutcome, alt_text, compose_reply, help_reply
from aircraftml.state.base import ClaimStatus, StateStore
from aircraftml.vision.annotate import annotate, encode_jpeg
from aircraftml.vision.recognizer import Recognizer

logger = logging.getLogger(__name__)

MAX_PHOTOS = 4  # X allows 4 photos in a post, and 4 images in a reply


class Outcome(enum.Enum):
    REPLIED = "replied"
    ALREADY_REPLIED = "already replied"
    DUPLICATE = "duplicate content: an identical reply exists"
    HELP_SENT = "help sent"
    HELP_SKIPPED = "help skipped: sent to this user within the hour"


@dataclass(frozen=True, slots=True)
class Handled:
    outcome: Outcome
    reply_id: str | None = None


class Busy(TransientError):
    """Another worker holds this mention's claim until ``until_epoch_s``: wait for it (a live
    worker finishes or renews it; a dead one's runs out), without spending a try."""

    def __init__(self, message: str, until_epoch_s: float) -> None:
        super().__init__(message)
        self.until_epoch_s = until_epoch_s


class Handler:
    def __init__(
        self,
        platform: Platform,
        state: StateStore,
        recognizer: Recognizer,
        *,
        weighted_length: Callable[[str], int],
        claim_ttl_s: float = 120.0,
        help_window_s: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._platform = platform
        self._state = state
        self._recognizer = recognizer
        self._weighted_length = weighted_length
        self._claim_ttl_s = claim_ttl_s
        self._help_window_s = help_window_s
        self._clock = clock
        self._rate_limit_name = f"{platform.name}:rate-limited"

    def rate_limited_until(self) -> float:
        """When the platform's rate limit, as any worker last met it, reopens (epoch s)."""
        return self._state.paused_until(self._rate_limit_name)

    def handle(self, request: Request) -> Handled:
        key = request.idempotency_key
        claim = self._state.claim(key, ttl_s=self._claim_ttl_s)
        if claim.status is ClaimStatus.DONE:
            logger.info("post %s: already answered (%s)", request.post_id, claim.result)
            return Handled(Outcome.ALREADY_REPLIED, claim.result or None)
        if claim.status is ClaimStatus.IN_PROGRESS:
            until = claim.expires_at_epoch_s or self._clock() + self._claim_ttl_s
            raise Busy(f"post {request.post_id} is being answered by another worker", until)
        try:
            handled = self._answer(request)
        except RateLimited as exc:
            self._state.release(key)
            self._state.pause(self._rate_limit_name, exc.until_epoch_s)
            raise
        except BaseException:
            self._state.release(key)
            raise
        self._state.complete(key, handled.reply_id or handled.outcome.value)
        logger.info("post %s: %s %s", request.post_id, handled.outcome.value, handled.reply_id)
        return handled

    def _answer(self, request: Request) -> Handled:
        photo_urls = self._photo_urls(request)
        if not photo_urls:
            return self._help(request)
        outcomes = [self._recognise(request, url) for url in photo_urls[:MAX_PHOTOS]]
        text = compose_reply(request.author_handle, outcomes, self._weighted_length)
        images = _annotated_images(outcomes)
        return self._post(request, text, images, Outcome.REPLIED)

    def _photo_urls(self, request: Request) -> tuple[str, ...]:
        """The mention's photos; if it has none, those of the post it replies to."""
        if request.photo_urls:
            return request.photo_urls
        post = self._platform.fetch_post(request.post_id)
        if post.photo_urls:
            return post.photo_urls
        parent_id = request.in_reply_to_id or post.in_reply_to_id
        if parent_id is None:
            return ()
        return self._platform.fetch_post(parent_id).photo_urls

    def _recognise(self, request: Request, url: str) -> PhotoOutcome:
        try:
            data = self._platform.download_photo(url)
            recognition = self._recognizer.recognize_bytes(data)
        except PhotoError as exc:
            logger.warning("post %s: photo %s refused: %s", request.post_id, url, exc)
            return PhotoOutcome(recognition=None, error=str(exc))
        logger.info(
            "post %s: %d aircraft in %s (%.0f ms)",
            request.post_id,
            len(recognition.aircraft),
            url,
            recognition.timings_ms["total"],
        )
        return PhotoOutcome(recognition=recognition)

    def _help(self, request: Request) -> Handled:
        """A short how-to, at most once per user per ``help_window_s``."""
        key = f"{request.platform}:help:{request.author_id}"
        if self._state.claim(key, ttl_s=self._claim_ttl_s).status is not ClaimStatus.FRESH:
            return Handled(Outcome.HELP_SKIPPED)
        try:
            handled = self._post(request, help_reply(request.author_handle), [], Outcome.HELP_SENT)
        except BaseException:
            self._state.release(key)
            raise
        self._state.complete(key, handled.reply_id or "", keep_s=self._help_window_s)
        return handled

    def _post(
        self, request: Request, text: str, images: Sequence[ReplyImage], outcome: Outcome
    ) -> Handled:
        self._wait_for_no_rate_limit(request)
        try:
            reply_id = self._platform.post_reply(request.post_id, text, images)
        except DuplicateContent:
            return Handled(Outcome.DUPLICATE)
        return Handled(outcome, reply_id)

    def _wait_for_no_rate_limit(self, request: Request) -> None:
        """Raise RateLimited while another worker's 429 says the window is still closed."""
        until = self.rate_limited_until()
        if until > self._clock():
            raise RateLimited(
                f"post {request.post_id}: waiting for the rate limit to reopen", until
            )


def _annotated_images(outcomes: Sequence[PhotoOutcome]) -> list[ReplyImage]:
    images = []
    for outcome in outcomes:
        recognition = outcome.recognition
        if recognition is None or not recognition.aircraft:
            continue
        images.append(
            ReplyImage(
                data=encode_jpeg(annotate(recognition)),
                mime_type="image/jpeg",
                alt_text=alt_text(recognition),
            )
        )
    return images
