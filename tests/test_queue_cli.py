"""``aircraftml queue``: stats, dead letters and redrive, on a real SQLite queue file."""

from __future__ import annotations

import json
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
    assert json.loads(output) == {"ready": 1, "in_flight": 0, "delayed": 0, "dead": 2}


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
    assert (code, json.loads(output)) == (0, {"ready": 3, "in_flight": 0, "delayed": 0, "dead": 0})


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
