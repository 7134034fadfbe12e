"""``aircraftml serve`` checks every setting and opens every backend before it says "webhook
on": each problem is one line naming the setting, with no traceback and nothing started.
Real commands, against the fake X (which answers the credentials check)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aircraftml.platforms.fake_x import FakeX, FakeXServer
from e2e_support import fast_fake_x, free_port


@pytest.fixture(scope="module")
def fake() -> Iterator[tuple[FakeX, str]]:
    fake = fast_fake_x()
    with FakeXServer(fake) as server:
        yield fake, server.base_url


def start(fake: tuple[FakeX, str], var: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``aircraftml serve`` with the fake's settings and ``env``; it must stop by itself."""
    x, base_url = fake
    environ = {
        "PATH": "/usr/bin:/bin",
        **x.bot_environ(base_url),
        "AIRCRAFTML_QUEUE_URL": f"sqlite://{var / 'queue.sqlite3'}",
        "AIRCRAFTML_STATE_URL": f"sqlite://{var / 'state.sqlite3'}",
        "AIRCRAFTML_PORT": str(free_port()),
        "AIRCRAFTML_WORKERS": "1",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "aircraftml", "serve"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "Traceback" not in output and "webhook on" not in output
    [line] = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    return line


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"AIRCRAFTML_STATE_URL": "redis://cache/0"}, "AIRCRAFTML_STATE_URL 'redis://cache/0'"),
        ({"AIRCRAFTML_QUEUE_URL": "postgres://db/queue"}, "AIRCRAFTML_QUEUE_URL"),
        ({"AIRCRAFTML_VISIBILITY_TIMEOUT_S": "inf"}, "AIRCRAFTML_VISIBILITY_TIMEOUT_S must be"),
        (
            {"AIRCRAFTML_QUEUE_URL": "sqlite:///sys/aircraftml/queue.sqlite3"},
            "AIRCRAFTML_QUEUE_URL=sqlite:///sys/aircraftml/queue.sqlite3: cannot open it",
        ),
        ({"AIRCRAFTML_X_ACCESS_TOKEN": "not-the-token"}, "the X credentials"),
        ({"AIRCRAFTML_BOT_USER_ID": "12345"}, "not of AIRCRAFTML_BOT_USER_ID=12345"),
    ],
    ids=[
        "state scheme",
        "queue scheme",
        "infinite timeout",
        "unwritable queue",
        "bad token",
        "someone else's token",
    ],
)
def test_a_wrong_setting_stops_serve_with_one_line_naming_it(
    fake: tuple[FakeX, str], tmp_path: Path, env: dict[str, str], named: str
) -> None:
    assert named in one_line_error(start(fake, tmp_path, **env))


def test_a_corrupt_queue_file_stops_serve_with_one_line(
    fake: tuple[FakeX, str], tmp_path: Path
) -> None:
    # Given a queue file that is not a database
    (tmp_path / "queue.sqlite3").write_bytes(b"this is not a database, " * 100)
    # Then serve stops, naming the setting and the problem
    line = one_line_error(start(fake, tmp_path))
    assert "AIRCRAFTML_QUEUE_URL" in line and "not a database" in line


def test_a_mistyped_variable_is_warned_about(fake: tuple[FakeX, str], tmp_path: Path) -> None:
    # Given AIRCRAFTML_WORKER (a typo of AIRCRAFTML_WORKERS) and a setting that stops serve
    done = start(fake, tmp_path, AIRCRAFTML_WORKER="4", AIRCRAFTML_STATE_URL="redis://x")
    # Then the typo is named, with the setting it looks like
    assert (
        "AIRCRAFTML_WORKER is not a setting and is ignored (did you mean AIRCRAFTML_WORKERS?)"
        in done.stderr
    )
