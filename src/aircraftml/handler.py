"""Answer one mention: claim it, fetch its photos, recognise the aircraft, reply, mark it done.

The same code runs inside ``aircraftml serve``, ``aircraftml worker`` and the Lambda function.
It never replies twice to one post:

- the post's idempotency key is claimed first; a key already DONE means the reply exists;
- a key IN_PROGRESS belongs to a live worker (or one that died: its claim expires after
  ``claim_ttl_s``), so the request waits until that claim ends (``Busy``), spending no try:
  a redelivery racing a dead worker's claim is answered once the claim runs out;
- the claim carries an owner token and is renewed while the mention is handled (the worker
  keeps the message invisible alike); just before posting the handler renews it once more
  and does not post if another worker has taken it over, nor once the mention has used its
  ``max_handling_s``;
- if a worker crashes after posting but before marking the key done (or X took a reply
  whose answer never came), the redelivered request looks its reply up on the platform
  before posting again; duplicate content counts as done only when that lookup finds our
  reply to this mention; an identical reply to another mention gets a note that differs.

A rate limit is the whole pool's: the first worker refused records "rate limited until T"
in the state store (``pause``), and every worker honours it before posting (and before
taking work: ``Worker``), so a backlog waits for the window instead of each message
spending its tries on 429s.

Errors are not caught here except to release the claim and record a rate limit: the worker
maps them onto the queue (retry, wait for the rate-limit reset, or dead-letter).
"""

from __future__ import annotations

import enum
import io
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial

from PIL import Image

from aircraftml.domain import Request
from aircraftml.errors import (
    DuplicateContent,
    PermanentError,
    PhotoError,
    RateLimited,
    TransientError,
)
from aircraftml.heartbeat import Heartbeat
from aircraftml.learning import Learning
from aircraftml.metrics import MENTIONS, REPLY_LATENCY, observe_recognition
from aircraftml.platforms.base import Platform, Post, ReplyImage
from aircraftml.recent import RecentReplies
from aircraftml.reply import PhotoOutcome, alt_text, compose_reply, help_reply, mention_notes
from aircraftml.state.base import ClaimStatus, StateStore
from aircraftml.vision.annotate import annotate, encode_jpeg
from aircraftml.vision.recognizer import Recognizer

logger = logging.getLogger(__name__)

MAX_PHOTOS = 4  # X allows 4 photos in a post, and 4 images in a reply


class Outcome(enum.Enum):
    REPLIED = "replied"
    ALREADY_REPLIED = "already replied"
    DUPLICATE = "duplicate content: our reply exists"
    HELP_SENT = "help sent"
    HELP_SKIPPED = "help skipped: sent to this user within the hour"
    OPTED_OUT = "not answered: the author asked to be left alone"
    ACKNOWLEDGED = "stop, start or feedback acknowledged"


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


class OutOfTime(TransientError):
    """The mention used up its ``max_handling_s`` before the reply was posted: not posted."""


@dataclass(frozen=True, slots=True)
class _Attempt:
    """One worker's go at a mention: its claim's owner token and when it must be done by."""

    request: Request
    token: str
    deadline_epoch_s: float
    earlier_tries: int = 0  # the queue's count of tries before this one


class Handler:
    """Answers mentions; ``claim_ttl_s`` and ``max_handling_s`` both default to the queue's
    visibility timeout (``assembly``): a mention is given up (not posted) once it has taken
    ``max_handling_s``, and its claim is renewed while it is handled."""

    def __init__(
        self,
        platform: Platform,
        state: StateStore,
        recognizer: Recognizer,
        *,
        weighted_length: Callable[[str], int],
        claim_ttl_s: float = 120.0,
        max_handling_s: float | None = None,
        help_window_s: float = 3600.0,
        clock: Callable[[], float] = time.time,
        learning: Learning | None = None,
        recent: RecentReplies | None = None,
    ) -> None:
        self._platform = platform
        self._state = state
        self._recognizer = recognizer
        self._weighted_length = weighted_length
        self._claim_ttl_s = claim_ttl_s
        self._max_handling_s = claim_ttl_s if max_handling_s is None else max_handling_s
        self._help_window_s = help_window_s
        self._clock = clock
        self._rate_limit_name = f"{platform.name}:rate-limited"
        self._learning = learning
        self._recent = recent

    @property
    def max_handling_s(self) -> float:
        """The time one mention may take; past it the reply is not posted."""
        return self._max_handling_s

    def rate_limited_until(self) -> float:
        """When the platform's rate limit, as any worker last met it, reopens (epoch s)."""
        return self._state.paused_until(self._rate_limit_name)

    def handle(self, request: Request, *, earlier_tries: int = 0) -> Handled:
        """Answer ``request`` once; ``earlier_tries`` > 0 (a redelivery) makes it look its
        reply up on the platform before posting, in case an earlier try posted it."""
        handled = self._handle_once(request, earlier_tries)
        MENTIONS.labels(outcome=handled.outcome.value).inc()
        if handled.outcome is Outcome.REPLIED and request.received_at_epoch_s:
            REPLY_LATENCY.observe(max(self._clock() - request.received_at_epoch_s, 0.0))
        return handled

    def _handle_once(self, request: Request, earlier_tries: int) -> Handled:
        key = request.idempotency_key
        claim = self._state.claim(key, ttl_s=self._claim_ttl_s)
        if claim.status is ClaimStatus.DONE:
            logger.info("post %s: already answered (%s)", request.post_id, claim.result)
            return Handled(Outcome.ALREADY_REPLIED, claim.result or None)
        if claim.status is ClaimStatus.IN_PROGRESS:
            until = claim.expires_at_epoch_s or self._clock() + self._claim_ttl_s
            raise Busy(f"post {request.post_id} is being answered by another worker", until)
        deadline_epoch_s = self._clock() + self._max_handling_s
        attempt = _Attempt(request, claim.token or "", deadline_epoch_s, earlier_tries)
        try:
            with self._claim_kept(attempt):
                handled = self._answer(attempt)
        except RateLimited as exc:
            self._state.release(key, token=attempt.token)
            self._state.pause(self._rate_limit_name, exc.until_epoch_s)
            raise
        except BaseException:
            self._state.release(key, token=attempt.token)
            raise
        result = handled.reply_id or handled.outcome.value
        if not self._state.complete(key, result, token=attempt.token):
            logger.warning("post %s: claim lost before it was marked done", request.post_id)
        logger.info("post %s: %s %s", request.post_id, handled.outcome.value, handled.reply_id)
        return handled

    def _claim_kept(self, attempt: _Attempt) -> Heartbeat:
        """Renew the claim while the mention is handled, and for one ttl past the deadline
        at most (a reply being posted at the deadline keeps its claim)."""
        key, token, ttl_s = attempt.request.idempotency_key, attempt.token, self._claim_ttl_s
        return Heartbeat(
            lambda: self._state.renew(key, token, ttl_s),
            interval_s=ttl_s / 3,
            stop_at_s=attempt.deadline_epoch_s + ttl_s,
            what=f"post {attempt.request.post_id}: claim",
            clock=self._clock,
        )

    def _answer(self, attempt: _Attempt) -> Handled:
        post = None
        if not attempt.request.author_handle:  # the delivery did not name the author
            post = self._platform.fetch_post(attempt.request.post_id)
            named = replace(attempt.request, author_handle=post.author_handle)
            attempt = replace(attempt, request=named)
        request = attempt.request
        if self._learning is not None:
            if (said := self._learning.reply_to_stop_or_start(request)) is not None:
                return self._post(attempt, _text(request, said), [], Outcome.ACKNOWLEDGED)
            if self._learning.opted_out(request):
                return Handled(Outcome.OPTED_OUT)
            if (said := self._learning.reply_to_feedback(request)) is not None:
                return self._post(attempt, _text(request, said), [], Outcome.ACKNOWLEDGED)
        photo_urls = self._photo_urls(request, post)
        if not photo_urls:
            return self._help(attempt)
        outcomes = []
        for number, url in enumerate(photo_urls[:MAX_PHOTOS], start=1):
            self._check_time_left(attempt, f"before photo {number}")
            outcomes.append(self._recognise(request, url))
        images = _annotated_images(outcomes)

        def text_with(note: str) -> str:
            return compose_reply(request.author_handle, outcomes, self._weighted_length, note)

        handled = self._post(attempt, text_with, images, Outcome.REPLIED)
        if self._recent is not None and handled.outcome is Outcome.REPLIED and handled.reply_id:
            self._remember_recent(request, handled.reply_id, text_with(""), images)
        if self._learning is not None:
            self._learning.remember_answer(request, handled.reply_id, photo_urls, outcomes)
        return handled

    def _remember_recent(
        self, request: Request, reply_id: str, text: str, images: Sequence[ReplyImage]
    ) -> None:
        """For the dashboard's last replies; a failure here must not fail the reply."""
        assert self._recent is not None
        try:
            picture = Image.open(io.BytesIO(images[0].data)) if images else None
            self._recent.add(
                post_id=request.post_id,
                reply_id=reply_id,
                author_handle=request.author_handle,
                text=text,
                received_at_epoch_s=request.received_at_epoch_s,
                picture=picture,
            )
        except Exception:
            logger.exception("post %s: could not keep the reply for the dashboard", request.post_id)

    def _check_time_left(self, attempt: _Attempt, step: str) -> None:
        """Raise TransientError once the mention has used its ``max_handling_s``."""
        if self._clock() > attempt.deadline_epoch_s:
            raise OutOfTime(
                f"post {attempt.request.post_id}: out of time {step} "
                f"(more than {self._max_handling_s:.0f} s)"
            )

    def _check_claim_still_ours(self, attempt: _Attempt) -> None:
        """Renew the claim just before posting; Busy if another worker took it meanwhile."""
        request = attempt.request
        if not self._state.renew(request.idempotency_key, attempt.token, self._claim_ttl_s):
            logger.warning("post %s: claim lost to another worker; not posting", request.post_id)
            until = self._clock() + self._claim_ttl_s
            raise Busy(f"post {request.post_id}: claim lost to another worker", until)

    def _photo_urls(self, request: Request, post: Post | None = None) -> tuple[str, ...]:
        """The mention's photos; if it has none, those of the post it replies to."""
        if request.photo_urls:
            return request.photo_urls
        post = post or self._platform.fetch_post(request.post_id)
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
            logger.warning(
                "post %s: photo %s not read (%s): %s", request.post_id, url, type(exc).__name__, exc
            )
            return PhotoOutcome(recognition=None, error=str(exc), problem=type(exc))
        observe_recognition(recognition.timings_ms, source="bot")
        logger.info(
            "post %s: %d aircraft in %s (%.0f ms)",
            request.post_id,
            len(recognition.aircraft),
            url,
            recognition.timings_ms["total"],
        )
        return PhotoOutcome(recognition=recognition)

    def _help(self, attempt: _Attempt) -> Handled:
        """A short how-to, at most once per user per ``help_window_s``."""
        request = attempt.request
        key = f"{request.platform}:help:{request.author_id}"
        help_claim = self._state.claim(key, ttl_s=self._claim_ttl_s)
        if help_claim.status is not ClaimStatus.FRESH:
            return Handled(Outcome.HELP_SKIPPED)
        try:
            handled = self._post(
                attempt, partial(help_reply, request.author_handle), [], Outcome.HELP_SENT
            )
        except BaseException:
            self._state.release(key, token=help_claim.token)
            raise
        self._state.complete(key, handled.reply_id or "", keep_s=self._help_window_s)
        return handled

    def _post(
        self,
        attempt: _Attempt,
        text_with: Callable[[str], str],
        images: Sequence[ReplyImage],
        outcome: Outcome,
    ) -> Handled:
        """Post the reply (``text_with(note)``) unless X already has ours: looked up before
        posting again after an earlier try, and when X refuses the text as a duplicate. A
        duplicate that is not ours (an identical reply to another mention) is posted again
        with a note that tells it apart."""
        request = attempt.request
        self._wait_for_no_rate_limit(request)
        self._check_time_left(attempt, "before posting")
        self._check_claim_still_ours(attempt)
        if attempt.earlier_tries and (earlier := self._our_reply(request)) is not None:
            return Handled(Outcome.ALREADY_REPLIED, earlier)
        notes = mention_notes(request.post_id, request.received_at_epoch_s or self._clock())
        for note in notes:
            try:
                return Handled(
                    outcome, self._platform.post_reply(request.post_id, text_with(note), images)
                )
            except DuplicateContent:
                if (ours := self._our_reply(request)) is not None:
                    return Handled(Outcome.DUPLICATE, ours)
                logger.info(
                    "post %s: text taken by another reply; telling it apart", request.post_id
                )
        raise PermanentError(f"post {request.post_id}: every text refused as duplicate content")

    def _our_reply(self, request: Request) -> str | None:
        """Our reply to the mention as the platform records it (posted by an earlier try)."""
        reply_id = self._platform.find_reply(request.post_id)
        if reply_id is not None:
            logger.info("post %s: our reply %s already exists", request.post_id, reply_id)
        return reply_id

    def _wait_for_no_rate_limit(self, request: Request) -> None:
        """Raise RateLimited while another worker's 429 says the window is still closed."""
        until = self.rate_limited_until()
        if until > self._clock():
            raise RateLimited(
                f"post {request.post_id}: waiting for the rate limit to reopen", until
            )


def _text(request: Request, body: str) -> Callable[[str], str]:
    """A short reply's text, with the note that tells it apart when it is a duplicate."""
    mention = f"@{request.author_handle.lstrip('@')} " if request.author_handle else ""
    return lambda note: f"{mention}{body}{note}"


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
