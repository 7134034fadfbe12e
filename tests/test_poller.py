"""The polling loop on a real source (the Mastodon client against the fake over HTTP) and
the real SQLite queue and state: two pollers sharing the state queue each mention once, a
restart resumes from the durable cursor, a failed enqueue loses nothing."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from aircraftml.fakes.mastodon import FakeMastodon
from aircraftml.platforms.mastodon.mentions import MastodonMentions
from aircraftml.poller import CURSOR, Poller
from aircraftml.queue.sqlite import SqliteQueue
from aircraftml.state.sqlite import SqliteStateStore
from e2e_support import jpeg
from mastodon_support import client_for, fast_fake_mastodon, served


@pytest.fixture
def fake() -> Iterator[tuple[FakeMastodon, str]]:
    fake = fast_fake_mastodon()
    with served(fake) as base_url:
        yield fake, base_url


def _poller(fake: FakeMastodon, base_url: str, var: Path, queue: SqliteQueue) -> Poller:
    state = SqliteStateStore(var / "state.sqlite3")
    return Poller(MastodonMentions(client_for(fake, base_url)), state, queue.send)


def _queued_posts(queue: SqliteQueue) -> list[str]:
    import json

    messages = queue.receive(max_messages=10, wait_s=0, visibility_timeout_s=60)
    while more := queue.receive(max_messages=10, wait_s=0, visibility_timeout_s=60):
        messages += more
    return sorted(json.loads(m.body)["post_id"] for m in messages)


def test_two_pollers_seeing_the_same_notifications_queue_each_mention_once(
    fake: tuple[FakeMastodon, str], tmp_path: Path
) -> None:
    fake_mastodon, base_url = fake
    queue = SqliteQueue(tmp_path / "queue.sqlite3")
    first, second = (_poller(fake_mastodon, base_url, tmp_path, queue) for _ in range(2))
    posts = [fake_mastodon.mention(f"u{n}", "@aircraftml ?", [jpeg()]) for n in range(5)]
    # When both poll (as two machines would), one after the other and again
    assert first.poll_once() == 5
    second._state.put_record(CURSOR, "mastodon", "0")  # the second saw an older cursor
    assert second.poll_once() == 0
    assert first.poll_once() == 0
    # Then each mention is on the queue once
    assert _queued_posts(queue) == sorted(posts)


def test_a_restarted_poller_resumes_from_its_durable_cursor(
    fake: tuple[FakeMastodon, str], tmp_path: Path
) -> None:
    fake_mastodon, base_url = fake
    queue = SqliteQueue(tmp_path / "queue.sqlite3")
    before = fake_mastodon.mention("a", "@aircraftml ?", [jpeg()])
    assert _poller(fake_mastodon, base_url, tmp_path, queue).poll_once() == 1
    after = fake_mastodon.mention("b", "@aircraftml ?", [jpeg()])
    # When a new poller process starts on the same state
    restarted = _poller(fake_mastodon, base_url, tmp_path, queue)
    assert restarted.poll_once() == 1
    assert _queued_posts(queue) == sorted([before, after])
    assert restarted.cursor is not None


def test_a_failed_enqueue_loses_nothing(fake: tuple[FakeMastodon, str], tmp_path: Path) -> None:
    fake_mastodon, base_url = fake
    queue = SqliteQueue(tmp_path / "queue.sqlite3")
    post = fake_mastodon.mention("a", "@aircraftml ?", [jpeg()])
    state = SqliteStateStore(tmp_path / "state.sqlite3")
    source = MastodonMentions(client_for(fake_mastodon, base_url))

    def broken(bodies: Sequence[str]) -> None:
        raise OSError("queue unreachable")

    with pytest.raises(OSError):
        Poller(source, state, broken).poll_once()
    # Then the cursor did not move and the mention is queued by the next poll
    assert Poller(source, state, queue.send).poll_once() == 1
    assert _queued_posts(queue) == [post]
