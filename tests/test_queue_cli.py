"""``aircraftml queue``: stats, dead letters and redrive, on a real SQLite queue file."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from aircraftml.cli import main
from aircraftml.queue.sqlite import SqliteQueue


@pytest.fixture
def queue_path(tmp_path: Path) -> Path:
    """A queue with one ready message and two dead letters."""
    path = tmp_path / "queue.sqlite3"
    with SqliteQueue(path) as queue:
        queue.send(["bad-1", "bad-2"])
        for message in queue.receive(max_messages=2):
            queue.dead_letter(message, reason=f"photo {message.body} is not an image")
        queue.send(["good"])
    return path


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["queue", *args], env=env)
    return result.exit_code, result.output


def test_stats_counts_ready_and_dead(queue_path: Path) -> None:
    code, output = run("--queue", str(queue_path), "stats", "--json")
    assert code == 0
    stats = json.loads(output)
    assert stats | {"oldest_age_s": None} == {
        "ready": 1,
        "in_flight": 0,
        "delayed": 0,
        "dead": 2,
        "oldest_age_s": None,
    }
    assert 0 <= stats["oldest_age_s"] < 60


def test_stats_shows_the_oldest_messages_age(tmp_path: Path) -> None:
    # Given a queue with a message sent 90 minutes ago and one sent 30 minutes ago
    sent_at_s = [time.time() - 5400]
    path = tmp_path / "queue.sqlite3"
    with SqliteQueue(path, clock=lambda: sent_at_s[0]) as queue:
        queue.send(["old"])
        sent_at_s[0] += 3600
        queue.send(["newer"])
    # When an operator asks for the stats / Then the oldest age is the oldest message's
    code, output = run("--queue", str(path), "stats")
    assert code == 0
    assert output.splitlines()[-1].split() == ["oldest", "90", "min"]
    # And an empty queue has no oldest message
    empty = tmp_path / "empty.sqlite3"
    SqliteQueue(empty).close()
    assert run("--queue", str(empty), "stats")[1].splitlines()[-1].split() == ["oldest", "-"]


def test_dead_letters_says_when_more_exist_than_it_lists(queue_path: Path) -> None:
    code, output = run("--queue", str(queue_path), "dead-letters", "--limit", "1")
    assert code == 0
    assert "1 of 2 dead letters listed (the oldest); --limit to list more" in output


def test_a_file_that_is_not_a_queue_is_refused_and_left_untouched(tmp_path: Path) -> None:
    # Given the bot's state file
    from aircraftml._sqlite import tables_in
    from aircraftml.state.sqlite import SqliteStateStore

    state_path = tmp_path / "state.sqlite3"
    SqliteStateStore(state_path).close()
    before = tables_in(state_path)
    # When the queue tools are pointed at it
    code, output = run("--queue", str(state_path), "stats")
    # Then they refuse it, and create no table in it
    assert code == 1
    assert f"{state_path} is not a queue file (its tables: claims" in output
    assert tables_in(state_path) == before


def test_queue_path_comes_from_the_environment(queue_path: Path) -> None:
    code, output = run("stats", env={"AIRCRAFTML_QUEUE_URL": f"sqlite://{queue_path}"})
    assert code == 0
    assert "dead" in output and "2" in output


def test_dead_letters_lists_id_count_time_and_reason(queue_path: Path) -> None:
    # When an operator lists the dead letters as JSON
    code, output = run("--queue", str(queue_path), "dead-letters", "--json")
    # Then each line names one, with why it died
    assert code == 0
    letters = [json.loads(line) for line in output.splitlines()]
    assert sorted(d["reason"] for d in letters) == [
        "photo bad-1 is not an image",
        "photo bad-2 is not an image",
    ]
    assert {d["receive_count"] for d in letters} == {1}
    assert all(d["dead_at"].endswith("+00:00") and len(d["id"]) == 32 for d in letters)


def test_dead_letters_as_text(queue_path: Path) -> None:
    code, output = run("--queue", str(queue_path), "dead-letters")
    assert code == 0
    assert "photo bad-1 is not an image" in output


def test_redrive_by_id_then_all(queue_path: Path) -> None:
    # Given the ids of the two dead letters
    with SqliteQueue(queue_path) as queue:
        first = queue.dead_letters()[0].id
    # When one is redriven by id, then the rest
    assert run("--queue", str(queue_path), "redrive", first) == (0, "redrove 1 message(s)\n")
    assert run("--queue", str(queue_path), "redrive") == (0, "redrove 1 message(s)\n")
    # Then none is dead and all three are ready
    code, output = run("--queue", str(queue_path), "stats", "--json")
    counts = {k: v for k, v in json.loads(output).items() if k != "oldest_age_s"}
    assert (code, counts) == (0, {"ready": 3, "in_flight": 0, "delayed": 0, "dead": 0})


def test_redrive_of_an_unknown_id_fails(queue_path: Path) -> None:
    code, output = run("--queue", str(queue_path), "redrive", "no-such-id")
    assert code == 1
    assert "1 id(s) were not dead letters" in output


def test_a_missing_queue_file_is_an_error_not_a_new_queue(tmp_path: Path) -> None:
    code, output = run("--queue", str(tmp_path / "nope.sqlite3"), "stats")
    assert code == 1
    assert "no queue file" in output
    assert not (tmp_path / "nope.sqlite3").exists()


def test_an_unknown_queue_url_is_an_error() -> None:
    code, output = run("--queue", "redis://localhost", "stats")
    assert code == 1
    assert "unknown scheme" in output
