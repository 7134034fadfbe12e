"""``aircraftml serve``'s worker processes die with it, even when it is killed with SIGKILL,
and a second ``serve`` on a taken port stops at once without starting workers. Real
processes, real signals (Linux: reads /proc)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aircraftml.platforms.fake_x import FakeXServer
from e2e_support import Bot, alive, fast_fake_x, wait_for, worker_pids

pytestmark = pytest.mark.skipif(
    not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists(),
    reason="needs /proc/<pid>/task/<pid>/children to find the workers",
)


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[Bot]:
    fake = fast_fake_x()
    with FakeXServer(fake) as server:
        bot = Bot(fake, server.base_url, tmp_path, env={"AIRCRAFTML_WORKERS": "2"})
        try:
            yield bot
        finally:
            bot.stop()


def started_workers(serve: subprocess.Popen[bytes]) -> set[int]:
    wait_for(lambda: len(worker_pids(serve.pid)) == 2, 60, "serve's two workers")
    return worker_pids(serve.pid)


def test_workers_die_with_serve_killed_by_sigkill_and_a_restart_does_not_double_them(
    bot: Bot,
) -> None:
    # Given serve running with two workers
    first = bot.start("serve")
    old_workers = started_workers(first)
    # When serve is killed with SIGKILL (no clean-up runs)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    # Then its workers stop too, within a few seconds
    wait_for(lambda: not any(alive(p) for p in old_workers), 10, "the orphaned workers to exit")
    # And a restarted serve runs two workers in all
    second = bot.start("serve")
    assert len(started_workers(second)) == 2
    assert not any(alive(p) for p in old_workers)


def test_a_second_serve_on_a_taken_port_stops_at_once_without_workers(bot: Bot) -> None:
    # Given serve running with its two workers
    first = bot.start("serve")
    workers = started_workers(first)
    # When another serve is started on the same port
    second = subprocess.run(
        [sys.executable, "-m", "aircraftml", "serve"],
        env=bot.env,
        capture_output=True,
        timeout=60,
    )
    # Then it stops with a one-line error naming the setting, and started no worker
    assert second.returncode != 0
    error = second.stderr.decode()
    assert "AIRCRAFTML_PORT" in error and "Traceback" not in error
    assert worker_pids(first.pid) == workers and all(alive(p) for p in workers)
