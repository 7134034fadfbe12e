"""The handler never replies twice, finds photos where they are, helps at most once an hour,
and the worker turns each kind of failure into the right queue action."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pytest
from PIL import Image

from aircraftml.domain import Request
from aircraftml.errors import (
    DuplicateContent,
    PermanentError,
    PhotoError,
    RateLimited,
    TransientError,
)
from aircraftml.handler import Busy, Handled, Handler, Outcome, OutOfTime
from aircraftml.platforms.base import Post, ReplyImage
from aircraftml.platforms.x_text import weighted_length
from aircraftml.queue.base import QueueStats
from aircraftml.queue.memory import MemoryQueue
from aircraftml.state.base import ClaimStatus
from aircraftml.state.memory import MemoryStateStore
from aircraftml.vision.image import Photo
from aircraftml.vision.recognizer import FoundAircraft, Recognition
from aircraftml.vision.types import TypeGuess
from aircraftml.worker import Worker, backoff_delay_s
from fake_clock import FakeClock


@dataclass
class Reply:
    in_reply_to_id: str
    text: str
    images: Sequence[ReplyImage]


@dataclass
class PlatformDouble:
    """An in-memory platform: posts by id, photos by URL, replies recorded; failures on cue."""

    name: str = "x"
    posts: dict[str, Post] = field(default_factory=dict)
    photos: dict[str, bytes] = field(default_factory=dict)
    replies: list[Reply] = field(default_factory=list)
    fail_next_reply: list[Exception] = field(default_factory=list)
    crash_after_posting: bool = False
    while_downloading: list[Callable[[], object]] = field(default_factory=list)

    def fetch_post(self, post_id: str) -> Post:
        return self.posts[post_id]

    def download_photo(self, url: str) -> bytes:
        if self.while_downloading:
            self.while_downloading.pop(0)()
        if url not in self.photos:
            raise PhotoError(f"{url}: 404")
        return self.photos[url]

    def post_reply(self, in_reply_to_id: str, text: str, images: Sequence[ReplyImage]) -> str:
        if self.fail_next_reply:
            raise self.fail_next_reply.pop(0)
        if any(r.text == text for r in self.replies):
            raise DuplicateContent("You are not allowed to create a Tweet with duplicate content.")
        self.replies.append(Reply(in_reply_to_id, text, images))
        if self.crash_after_posting:
            raise KeyboardInterrupt("worker killed after posting")
        return f"reply-{len(self.replies)}"

    def find_reply(self, in_reply_to_id: str) -> str | None:
        return next(
            (
                f"reply-{n}"
                for n, r in enumerate(self.replies, 1)
                if r.in_reply_to_id == in_reply_to_id
            ),
            None,
        )

    def close(self) -> None:
        pass


class RecognizerDouble:
    """Sees one Boeing 747 in a photo whose bytes say 747, nothing in 'empty'."""

    def recognize_bytes(self, data: bytes) -> Recognition:
        if data == b"broken":
            raise PhotoError("truncated or corrupt image")
        photo = Photo(image=Image.new("RGB", (400, 300)), width=800, height=600)
        found = (
            (FoundAircraft((100, 100, 700, 400), 0.95, (TypeGuess("Boeing 747", 0.93),)),)
            if data == b"747"
            else ()
        )
        return Recognition(photo=photo, aircraft=found, timings_ms={"total": 1.0})


def request(post_id: str = "p1", photos: tuple[str, ...] = ("u/747",), **extra: str) -> Request:
    return Request(
        platform="x",
        post_id=post_id,
        author_id=extra.get("author_id", "42"),
        author_handle=extra.get("author_handle", "alice"),
        text="@planebot?",
        photo_urls=photos,
        in_reply_to_id=extra.get("in_reply_to_id"),
    )


@pytest.fixture
def platform() -> PlatformDouble:
    return PlatformDouble(photos={"u/747": b"747", "u/empty": b"empty", "u/broken": b"broken"})


@pytest.fixture
def state() -> MemoryStateStore:
    return MemoryStateStore()


def make_handler(
    platform: PlatformDouble,
    state: MemoryStateStore,
    clock: Callable[[], float] = time.time,
    max_handling_s: float = 60,
) -> Handler:
    return Handler(
        platform,
        state,
        RecognizerDouble(),  # type: ignore[arg-type]
        weighted_length=weighted_length,
        claim_ttl_s=60,
        max_handling_s=max_handling_s,
        clock=clock,
    )


def test_a_mention_with_a_photo_gets_one_reply_with_the_annotated_photo(
    platform: PlatformDouble, state: MemoryStateStore
) -> None:
    handled = make_handler(platform, state).handle(request())
    assert handled.outcome is Outcome.REPLIED
    [reply] = platform.replies
    assert reply.in_reply_to_id == "p1"
    assert reply.text == "@alice I see one aircraft: almost certainly a Boeing 747 (93%)."
    [image] = reply.images
    assert image.mime_type == "image/jpeg" and image.data[:2] == b"\xff\xd8"
    assert "Boeing 747" in image.alt_text


def test_the_same_mention_handled_three_times_is_answered_once(
    platform: PlatformDouble, state: MemoryStateStore
) -> None:
    handler = make_handler(platform, state)
    outcomes = [handler.handle(request()).outcome for _ in range(3)]
    assert outcomes == [Outcome.REPLIED, Outcome.ALREADY_REPLIED, Outcome.ALREADY_REPLIED]
    assert len(platform.replies) == 1


def test_a_mention_claimed_by_another_worker_is_retried_later(
    platform: PlatformDouble, state: MemoryStateStore
) -> None:
    state.claim(request().idempotency_key, ttl_s=60)
    with pytest.raises(Busy):
        make_handler(platform, state).handle(request())
    assert platform.replies == []


def test_a_worker_whose_claim_was_taken_over_does_not_post(
    platform: PlatformDouble, clock: FakeClock
) -> None:
    # Given a worker stalled 61 s on a photo (its claim lasts 60), during which another
    # worker claims the mention
    state = MemoryStateStore(clock=clock)
    key = request().idempotency_key

    def stall_while_another_worker_claims() -> None:
        clock.advance(61)
        state.claim(key, ttl_s=60)

    platform.while_downloading.append(stall_while_another_worker_claims)
    # When the stalled worker gets to posting
    with pytest.raises(Busy):
        make_handler(platform, state, clock, max_handling_s=600).handle(request())
    # Then it does not post, and the other worker's claim stands
    assert platform.replies == []
    assert state.claim(key, ttl_s=60).status is ClaimStatus.IN_PROGRESS


def test_a_mention_that_ran_out_of_time_is_not_posted_and_freed_for_a_retry(
    platform: PlatformDouble, clock: FakeClock
) -> None:
    state = MemoryStateStore(clock=clock)
    platform.while_downloading.append(lambda: clock.advance(61))
    with pytest.raises(OutOfTime):
        make_handler(platform, state, clock, max_handling_s=60).handle(request())
    assert platform.replies == []
    assert state.claim(request().idempotency_key, ttl_s=60).status is ClaimStatus.FRESH


def test_the_worker_keeps_a_slow_message_invisible_while_it_is_handled(
    platform: PlatformDouble, state: MemoryStateStore
) -> None:
    # Given a worker with a 0.3 s visibility timeout, and a photo that takes 1 s to fetch
    queue = MemoryQueue()
    queue.send([request().to_json()])
    seen_by_others: list[int] = []

    def slow_download() -> None:
        time.sleep(1.0)
        seen_by_others.append(len(queue.receive(wait_s=0)))

    platform.while_downloading.append(slow_download)
    worker = Worker(queue, make_handler(platform, state), wait_s=0, visibility_timeout_s=0.3)
    # When it handles the message
    assert worker.run_once() == 1
    # Then nobody else could take it meanwhile, and it was answered and acked
    assert seen_by_others == [0]
    assert len(platform.replies) == 1
    assert queue.stats() == QueueStats(ready=0, in_flight=0, delayed=0, dead=0)


def test_crash_between_posting_and_marking_done_never_gives_a_second_reply(
    platform: PlatformDouble,
) -> None:
    # Given a worker that dies right after X accepted its reply (claim left in progress)
    clock = [1000.0]
    state = MemoryStateStore(clock=lambda: clock[0])
    platform.crash_after_posting = True
    with pytest.raises(KeyboardInterrupt):
        make_handler(platform, state).handle(request())
    # When the claim has expired and the redelivered request is handled again
    platform.crash_after_posting = False
    clock[0] += 61
    handled = make_handler(platform, state).handle(request(), earlier_tries=1)
    # Then X's record of our reply is found before posting: no second reply
    assert handled == Handled(Outcome.ALREADY_REPLIED, "reply-1")
    assert len(platform.replies) == 1
    assert state.claim(request().idempotency_key, ttl_s=60).status is ClaimStatus.DONE


def test_a_retry_whose_text_changed_finds_the_reply_an_earlier_try_posted(
    platform: PlatformDouble, state: MemoryStateStore
) -> None:
    # Given a first try that posted "couldn't open your photo" and then lost its answer
    # (the photo host was failing), and a photo that now reads fine
    platform.photos["u/flaky"] = b"broken"
    platform.crash_after_posting = True
    with pytest.raises(KeyboardInterrupt):
        make_handler(platform, state).handle(request(photos=("u/flaky",)))
    platform.crash_after_posting = False
    platform.photos["u/flaky"] = b"747"
    # When the redelivered request is handled (its reply would now name the aircraft)
    handled = make_handler(platform, state).handle(request(photos=("u/flaky",)), earlier_tries=1)
    # Then it finds the earlier reply on the platform and does not post a different second one
    assert handled.outcome is Outcome.ALREADY_REPLIED
    assert [r.text for r in platform.replies] == [
        "@alice I couldn't open your photo: it seems damaged or in a format I don't read."
    ]


def test_two_mentions_with_the_same_answer_both_get_a_reply(
    platform: PlatformDouble, state: MemoryStateStore
) -> None:
    # Given alice mentions the bot twice, with two photos that hold no aircraft
    handler = make_handler(platform, state)
    first = handler.handle(request("m1", photos=("u/empty",)))
    # When the second reply's text is the same as the first's (X refuses it as duplicate)
    second = handler.handle(
        dataclasses.replace(request("m2", photos=("u/empty",)), received_at_epoch_s=1_775_000_000)
    )
    # Then the second mention is answered too, its reply told apart by the mention's time
    assert (first.outcome, second.outcome) == (Outcome.REPLIED, Outcome.REPLIED)
    assert [r.in_reply_to_id for r in platform.replies] == ["m1", "m2"]
    assert platform.replies[1].text.endswith(" (for your post at 23:33:20 UTC)")
    assert platform.replies[1].text.startswith(platform.replies[0].text)


def test_a_duplicate_of_our_own_reply_counts_as_done(
    platform: PlatformDouble, state: MemoryStateStore
) -> None:
    # Given our reply to p1 exists but its claim was lost (e.g. a state store restored)
    make_handler(platform, state).handle(request())
    fresh_state = MemoryStateStore()
    # When p1 is handled again and X refuses the identical text
    handled = make_handler(platform, fresh_state).handle(request())
    # Then that counts as done, with our reply's id
    assert handled == Handled(Outcome.DUPLICATE, "reply-1")
    assert len(platform.replies) == 1


def test_a_reply_without_a_photo_uses_the_parent_posts_photos(
    platform: PlatformDouble, state: MemoryStateStore
) -> None:
    platform.posts["p2"] = Post("p2", "42", "alice", "@planebot what's this?", (), "parent")
    platform.posts["parent"] = Post("parent", "7", "bob", "look!", ("u/747",))
    make_handler(platform, state).handle(request("p2", photos=()))
    assert "Boeing 747" in platform.replies[0].text


def test_a_mention_whose_author_the_delivery_did_not_name_is_looked_up(
    platform: PlatformDouble, state: MemoryStateStore
) -> None:
    # Given an X Activity mention without includes: no handle, no photos
    platform.posts["p1"] = Post("p1", "42", "bob", "@planebot?", photo_urls=("u/747",))
    # When handled
    handled = make_handler(platform, state).handle(request(photos=(), author_handle=""))
    # Then the lookup names the author and finds the photo, and the reply addresses them
    assert handled.outcome is Outcome.REPLIED
    assert platform.replies[0].text.startswith("@bob I see one aircraft")


def test_no_photo_anywhere_gets_help_at_most_once_per_hour(
    platform: PlatformDouble, state: MemoryStateStore
) -> None:
    platform.posts["h1"] = Post("h1", "42", "alice", "@planebot hi")
    platform.posts["h2"] = Post("h2", "42", "alice", "@planebot hello?")
    handler = make_handler(platform, state)
    assert handler.handle(request("h1", photos=())).outcome is Outcome.HELP_SENT
    assert handler.handle(request("h2", photos=())).outcome is Outcome.HELP_SKIPPED
    assert len(platform.replies) == 1 and "Mention me with a photo" in platform.replies[0].text


def test_a_failed_help_reply_is_not_counted_as_sent(
    platform: PlatformDouble, state: MemoryStateStore
) -> None:
    platform.posts["h1"] = Post("h1", "42", "alice", "@planebot hi")
    platform.fail_next_reply.append(TransientError("503"))
    handler = make_handler(platform, state)
    with pytest.raises(TransientError):
        handler.handle(request("h1", photos=()))
    assert handler.handle(request("h1", photos=())).outcome is Outcome.HELP_SENT


def test_unreadable_and_empty_photos_are_answered_kindly(
    platform: PlatformDouble, state: MemoryStateStore
) -> None:
    make_handler(platform, state).handle(request(photos=("u/empty", "u/broken", "u/missing")))
    [reply] = platform.replies
    assert reply.text.startswith("@alice Photo 1: I looked closely but couldn't find")
    assert "Photo 2: I couldn't open your photo" in reply.text
    assert "Photo 3: I couldn't open your photo" in reply.text
    assert reply.images == []


def test_only_the_first_four_photos_are_read(
    platform: PlatformDouble, state: MemoryStateStore
) -> None:
    make_handler(platform, state).handle(request(photos=("u/747",) * 4 + ("u/missing",)))
    assert platform.replies[0].text.count("Boeing 747") == 4
    assert "Photo 5" not in platform.replies[0].text


# The worker: errors become queue actions.


def run_one(
    platform: PlatformDouble, state: MemoryStateStore, queue: MemoryQueue, now: float = 0.0
) -> None:
    worker = Worker(queue, make_handler(platform, state), wait_s=0, clock=lambda: now)
    assert worker.run_once() == 1


def test_worker_acks_what_was_answered(platform: PlatformDouble, state: MemoryStateStore) -> None:
    queue = MemoryQueue()
    queue.send([request().to_json()])
    run_one(platform, state, queue)
    assert queue.stats().ready + queue.stats().in_flight + queue.stats().delayed == 0


def test_worker_retries_transient_errors_with_backoff(
    platform: PlatformDouble, state: MemoryStateStore
) -> None:
    queue = MemoryQueue()
    queue.send([request().to_json()])
    platform.fail_next_reply.append(TransientError("503 from X"))
    run_one(platform, state, queue)
    assert queue.stats().delayed == 1
    assert [backoff_delay_s(n) for n in (1, 2, 3, 12)] == [2.0, 4.0, 8.0, 300.0]


def test_worker_waits_for_the_rate_limit_reset(
    platform: PlatformDouble, state: MemoryStateStore
) -> None:
    clock = [1000.0]
    queue = MemoryQueue(clock=lambda: clock[0])
    queue.send([request().to_json()])
    platform.fail_next_reply.append(RateLimited("429", until_epoch_s=1900.0))
    run_one(platform, state, queue, now=1000.0)
    clock[0] = 1899.0
    assert queue.receive(wait_s=0) == []  # still waiting for the reset
    clock[0] = 1901.0
    assert len(queue.receive(wait_s=0)) == 1


def test_a_rate_limit_pauses_every_worker_and_spends_no_try(
    platform: PlatformDouble, state: MemoryStateStore, clock: FakeClock
) -> None:
    # Given two workers sharing one state, and mentions that may be tried only once
    queue = MemoryQueue(max_receives=1, clock=clock)
    queue.send([request("p1").to_json(), request("p2", photos=("u/empty",)).to_json()])
    workers = [
        Worker(queue, make_handler(platform, state, clock), wait_s=0, clock=clock) for _ in range(2)
    ]
    # When X answers the first worker's reply with 429 until a minute from now
    platform.fail_next_reply.append(RateLimited("429", until_epoch_s=clock.now_s + 60))
    assert [w.run_once() for w in workers] == [1, 1]
    # Then the second worker did not even try, and both mentions wait without a try spent
    assert platform.replies == []
    assert queue.stats().delayed == 2
    clock.advance(59)
    assert [w.run_once() for w in workers] == [0, 0]
    # And once the window reopens both are answered, nothing dead-lettered
    clock.advance(1)
    assert [w.run_once() for w in workers] == [1, 1]
    assert sorted(r.in_reply_to_id for r in platform.replies) == ["p1", "p2"]
    assert queue.stats().dead == 0


def test_a_mention_claimed_elsewhere_waits_for_that_claim_without_spending_a_try(
    platform: PlatformDouble, clock: FakeClock
) -> None:
    # Given a worker that died holding a mention's claim (60 s), and one try per message
    state = MemoryStateStore(clock=clock)
    state.claim(request().idempotency_key, ttl_s=60)
    queue = MemoryQueue(max_receives=1, clock=clock)
    queue.send([request().to_json()])
    worker = Worker(queue, make_handler(platform, state, clock), wait_s=0, clock=clock)
    # When the redelivered copy is taken while that claim still runs
    clock.advance(10)
    assert worker.run_once() == 1
    # Then it waits until the claim has run out, and is answered then, not dead-lettered
    clock.advance(49)
    assert worker.run_once() == 0
    clock.advance(2)
    assert worker.run_once() == 1
    assert [r.in_reply_to_id for r in platform.replies] == ["p1"]
    assert queue.stats().dead == 0


def test_worker_dead_letters_permanent_errors_with_the_reason(
    platform: PlatformDouble, state: MemoryStateStore
) -> None:
    queue = MemoryQueue()
    queue.send([request().to_json(), "{not json"])
    platform.fail_next_reply.append(PermanentError("403 You are not permitted to reply"))
    run_one(platform, state, queue)
    run_one(platform, state, queue)
    reasons = sorted(d.reason for d in queue.dead_letters())
    assert reasons[0].startswith("PermanentError: 403 You are not permitted")
    assert reasons[1].startswith("malformed request")
    # and the mention's claim was released, so a redrive can answer it
    assert queue.redrive() == 2
    run_one(platform, state, queue)
    run_one(platform, state, queue)
    assert len(platform.replies) == 1
