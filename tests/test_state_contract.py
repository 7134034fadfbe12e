"""The StateStore contract, run against every backend.

To add a backend, add its name to ``BACKENDS`` and a branch in ``make_store``; calling
``make_store`` twice in one test must give two handles on the same store.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from aircraftml.state.base import Claim, ClaimStatus, StateStore, once_per_window
from aircraftml.state.memory import MemoryStateStore
from aircraftml.state.sqlite import SqliteStateStore
from fake_clock import FakeClock

BACKENDS = ["memory", "sqlite", "dynamodb"]
NOT_FOR = {"dynamodb": {"test_purge_expired_forgets_only_expired_keys": "DynamoDB's TTL purges"}}

FRESH = Claim(ClaimStatus.FRESH)
IN_PROGRESS = Claim(ClaimStatus.IN_PROGRESS)


@pytest.fixture(params=BACKENDS)
def make_store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> Iterator[Callable[[], StateStore]]:
    if request.function.__name__ in NOT_FOR.get(request.param, {}):
        pytest.skip(NOT_FOR[request.param][request.function.__name__])
    opened: list[StateStore] = []
    memory = MemoryStateStore(clock=clock)

    def _open() -> StateStore:
        store: StateStore
        if request.param == "memory":
            store = memory
        elif request.param == "sqlite":
            store = SqliteStateStore(tmp_path / "state.sqlite3", clock=clock)
        elif request.param == "dynamodb":
            from aircraftml.state.dynamodb import DynamoDbStateStore

            client = request.getfixturevalue("make_aws_client")("dynamodb")
            store = DynamoDbStateStore(f"contract-{tmp_path.name}", client=client, clock=clock)
            store.create_table()
        else:
            raise AssertionError(request.param)
        opened.append(store)
        return store

    yield _open
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store: Callable[[], StateStore]) -> StateStore:
    return make_store()


def test_first_claim_is_fresh_and_the_next_is_in_progress(store: StateStore) -> None:
    assert store.claim("x:reply:1", ttl_s=60) == FRESH
    assert store.claim("x:reply:1", ttl_s=60) == IN_PROGRESS
    assert store.claim("x:reply:2", ttl_s=60) == FRESH


def test_completed_key_is_done_with_its_result_for_good(
    store: StateStore, clock: FakeClock
) -> None:
    # Given a key claimed and completed with the reply's id
    store.claim("k", ttl_s=60)
    store.complete("k", "reply-123")
    # When it is claimed again, even a year later
    clock.advance(365 * 86400)
    claim = store.claim("k", ttl_s=60)
    # Then it is done, with the result
    assert claim == Claim(ClaimStatus.DONE, "reply-123")


def test_expired_in_progress_claim_can_be_claimed_again(
    store: StateStore, clock: FakeClock
) -> None:
    # Given a claim by a worker that crashed
    store.claim("k", ttl_s=30)
    # When its ttl has not passed it is in progress; once it has, the key is fresh again
    clock.advance(29)
    assert store.claim("k", ttl_s=30) == IN_PROGRESS
    clock.advance(1)
    assert store.claim("k", ttl_s=30) == FRESH
    # And the new claim has its own ttl
    clock.advance(29)
    assert store.claim("k", ttl_s=30) == IN_PROGRESS


def test_release_frees_the_key_at_once(store: StateStore) -> None:
    store.claim("k", ttl_s=60)
    store.release("k")
    assert store.claim("k", ttl_s=60) == FRESH


def test_release_does_not_undo_a_completed_key(store: StateStore) -> None:
    store.claim("k", ttl_s=60)
    store.complete("k", "done")
    store.release("k")
    assert store.claim("k", ttl_s=60) == Claim(ClaimStatus.DONE, "done")


def test_a_fresh_claim_has_a_token_and_an_in_progress_one_says_when_it_expires(
    store: StateStore, clock: FakeClock
) -> None:
    fresh = store.claim("k", ttl_s=30)
    assert fresh.token
    other = store.claim("k", ttl_s=30)
    assert other.token is None
    assert other.expires_at_epoch_s == pytest.approx(clock.now_s + 30)
    # And every fresh claim gets its own token
    assert store.claim("k2", ttl_s=30).token not in (None, fresh.token)


def test_renew_keeps_the_owners_claim_alive(store: StateStore, clock: FakeClock) -> None:
    # Given a claim for 30 s, renewed by its owner at 20 s and at 40 s
    token = store.claim("k", ttl_s=30).token
    assert token is not None
    clock.advance(20)
    assert store.renew("k", token, ttl_s=30)
    clock.advance(20)
    assert store.renew("k", token, ttl_s=30)
    # Then at 65 s (past the first ttl) it is still in progress; after the last renewal, fresh
    clock.advance(25)
    assert store.claim("k", ttl_s=30) == IN_PROGRESS
    clock.advance(5)
    assert store.claim("k", ttl_s=30) == FRESH


def test_a_worker_that_lost_its_claim_can_neither_renew_complete_nor_release_it(
    store: StateStore, clock: FakeClock
) -> None:
    # Given a slow worker's claim that expired and was claimed by another worker
    slow = store.claim("k", ttl_s=30).token
    clock.advance(31)
    fast = store.claim("k", ttl_s=30).token
    assert slow is not None and fast is not None
    # When the slow worker renews, completes and releases with its old token
    assert not store.renew("k", slow, ttl_s=30)
    assert not store.complete("k", "slow-reply", token=slow)
    store.release("k", token=slow)
    # Then the other worker still owns the key, and can complete it
    assert store.claim("k", ttl_s=30) == IN_PROGRESS
    assert store.complete("k", "fast-reply", token=fast)
    assert store.claim("k", ttl_s=30) == Claim(ClaimStatus.DONE, "fast-reply")
    assert not store.renew("k", fast, ttl_s=30)


def test_an_expired_claim_nobody_took_is_still_its_owners(
    store: StateStore, clock: FakeClock
) -> None:
    token = store.claim("k", ttl_s=30).token
    assert token is not None
    clock.advance(31)
    assert store.renew("k", token, ttl_s=30)
    assert store.claim("k", ttl_s=30) == IN_PROGRESS
    assert store.complete("k", "r", token=token)


def test_release_with_the_token_frees_the_owners_claim(store: StateStore) -> None:
    token = store.claim("k", ttl_s=60).token
    assert token is not None
    store.release("k", token=token)
    assert store.claim("k", ttl_s=60) == FRESH


def test_a_pause_is_shared_and_only_ever_lengthened(
    make_store: Callable[[], StateStore], clock: FakeClock
) -> None:
    # Given two handles on one store, one of which records a pause until T+60
    first, second = make_store(), make_store()
    assert second.paused_until("x:rate-limit") == 0.0
    first.pause("x:rate-limit", clock.now_s + 60)
    # When the other records an earlier end, then a later one
    second.pause("x:rate-limit", clock.now_s + 10)
    assert first.paused_until("x:rate-limit") == pytest.approx(clock.now_s + 60)
    second.pause("x:rate-limit", clock.now_s + 90)
    # Then both see the latest end; other names are not paused
    assert first.paused_until("x:rate-limit") == pytest.approx(clock.now_s + 90)
    assert first.paused_until("x:other") == 0.0


def test_done_with_keep_s_expires(store: StateStore, clock: FakeClock) -> None:
    # Given a key completed to be kept for an hour
    store.claim("help:u1", ttl_s=60)
    store.complete("help:u1", "sent", keep_s=3600)
    # Then it is done for the hour, fresh after it
    clock.advance(3599)
    assert store.claim("help:u1", ttl_s=60) == Claim(ClaimStatus.DONE, "sent")
    clock.advance(1)
    assert store.claim("help:u1", ttl_s=60) == FRESH


def test_once_per_window(store: StateStore, clock: FakeClock) -> None:
    # Given a user asking for help three times in an hour, then again after it
    answers = [once_per_window(store, "help:u1", window_s=3600)]
    clock.advance(1800)
    answers.append(once_per_window(store, "help:u1", window_s=3600))
    answers.append(once_per_window(store, "help:u2", window_s=3600))
    clock.advance(1800)
    answers.append(once_per_window(store, "help:u1", window_s=3600))
    # Then only the first in each window, per user, is answered
    assert answers == [True, False, True, True]


def test_purge_expired_forgets_only_expired_keys(
    make_store: Callable[[], StateStore], clock: FakeClock
) -> None:
    store = make_store()
    assert isinstance(store, MemoryStateStore | SqliteStateStore)
    store.claim("stale", ttl_s=10)
    store.claim("alive", ttl_s=100)
    store.complete("forever", "r")
    clock.advance(50)
    assert store.purge_expired() == 1
    assert store.claim("alive", ttl_s=10) == IN_PROGRESS
    assert store.claim("forever", ttl_s=10) == Claim(ClaimStatus.DONE, "r")


def test_concurrent_claims_from_threads_give_exactly_one_fresh(
    make_store: Callable[[], StateStore],
) -> None:
    # Given eight threads, each with its own handle, claiming one key at the same moment
    stores = [make_store() for _ in range(8)]
    barrier = threading.Barrier(len(stores))
    results: list[Claim] = []
    lock = threading.Lock()

    def claim(store: StateStore) -> None:
        barrier.wait()
        claim = store.claim("k", ttl_s=60)
        with lock:
            results.append(claim)

    threads = [threading.Thread(target=claim, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then exactly one owns it
    assert sorted(c.status.value for c in results) == ["fresh"] + ["in_progress"] * 7


def test_records_are_kept_by_kind_and_key_and_seen_by_every_handle(
    make_store: Callable[[], StateStore], clock: FakeClock
) -> None:
    # Given two handles on one store, and records of two kinds
    first, second = make_store(), make_store()
    first.put_record("answer", "x:9", '{"label": "Airbus A320"}')
    first.put_record("answer", "x:10", '{"label": "Boeing 747"}')
    first.put_record("correction", "x:9", '{"label": "Airbus A321"}')
    # When they are read from the other handle, even a year later
    clock.advance(365 * 86400)
    # Then each kind holds its own, sorted by key
    assert second.get_record("answer", "x:9") == '{"label": "Airbus A320"}'
    assert second.records("answer") == [
        ("x:10", '{"label": "Boeing 747"}'),
        ("x:9", '{"label": "Airbus A320"}'),
    ]
    assert second.records("correction") == [("x:9", '{"label": "Airbus A321"}')]
    assert second.get_record("optout", "x:9") is None


def test_a_record_is_replaced_and_deleted(store: StateStore) -> None:
    store.put_record("optout", "x:alice", "1")
    store.put_record("optout", "x:alice", "2")
    assert store.records("optout") == [("x:alice", "2")]
    store.delete_record("optout", "x:alice")
    store.delete_record("optout", "x:nobody")  # deleting what is not there is fine
    assert store.get_record("optout", "x:alice") is None
    assert store.records("optout") == []


def test_records_do_not_collide_with_claims(store: StateStore) -> None:
    store.put_record("x", "reply:1", "kept")
    assert store.claim("x:reply:1", ttl_s=60).status is ClaimStatus.FRESH
    assert store.get_record("x", "reply:1") == "kept"
