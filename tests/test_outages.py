"""A queue locked by an operator does not crash-loop the workers (restarted every second,
reloading their models), and health says the truth: /healthz stays live, /readyz is 503
until the queue answers again, then the bot answers as before. Real processes."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import aircraftml
from aircraftml.platforms.fake_x import FakeX, FakeXServer
from aircraftml.serve import keep_working
from e2e_support import Bot, fast_fake_x, jpeg, replies_to, wait_for, worker_pids


@pytest.fixture
def fake() -> Iterator[tuple[FakeX, FakeXServer]]:
    fake = fast_fake_x()
    with FakeXServer(fake) as server:
        yield fake, server


def readyz(bot: Bot) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{bot.port}/readyz", timeout=10)


@pytest.mark.skipif(
    not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists(),
    reason="needs /proc to find the workers",
)
def test_a_locked_queue_makes_serve_unready_not_crash_looping_and_it_recovers(
    fake: tuple[FakeX, FakeXServer], tmp_path: Path
) -> None:
    fake_x, server = fake
    bot = Bot(fake_x, server.base_url, tmp_path)
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        serve = subprocess.Popen(
            [sys.executable, "-m", "aircraftml", "serve"], env=bot.env, stderr=log
        )
    bot.processes.append(serve)
    try:
        wait_for(lambda: bot._webhook_up() and readyz(bot).status_code == 200, 60, "readiness")
        fake_x.register_webhook(bot.webhook_url)
        [worker] = worker_pids(serve.pid)
        # Given an operator holding the queue file's write lock
        operator = sqlite3.connect(bot.queue_path, isolation_level=None)
        operator.execute("BEGIN EXCLUSIVE")
        # Then /readyz says so while /healthz stays live
        wait_for(lambda: readyz(bot).status_code == 503, 30, "/readyz to say 503")
        assert httpx.get(f"http://127.0.0.1:{bot.port}/healthz").status_code == 200
        wait_for(lambda: "trying again" in log_path.read_text(), 30, "the worker to back off")
        assert "not ready" in readyz(bot).json()["workers"]
        # And the worker was neither killed nor restarted
        assert worker_pids(serve.pid) == {worker}
        # When the lock is released
        operator.execute("ROLLBACK")
        operator.close()
        # Then serve is ready again and answers a mention
        wait_for(lambda: readyz(bot).status_code == 200, 60, "/readyz to say 200 again")
        delivery = fake_x.mention("ivy", "after the outage?", photos=[jpeg()])
        wait_for(lambda: replies_to(fake_x, str(delivery.post_id)), 60, "the reply")
        assert worker_pids(serve.pid) == {worker}
        assert "Traceback" not in log_path.read_text()
    finally:
        bot.stop()


def test_keep_working_backs_off_and_keeps_going_after_failures() -> None:
    # Given a worker loop whose queue fails twice, then works until stopped
    stop, ready = threading.Event(), threading.Event()
    calls: list[bool] = []

    def run(stop_event: threading.Event) -> None:
        calls.append(ready.is_set())
        if len(calls) <= 2:
            raise OSError("database is locked")
        stop_event.set()

    waits: list[float] = []
    original_wait = stop.wait

    def recording_wait(timeout: float | None = None) -> bool:
        waits.append(timeout or 0.0)
        return original_wait(0)

    stop.wait = recording_wait  # type: ignore[method-assign]
    # When it keeps working
    keep_working(run, probe=lambda: None, stop=stop, ready=ready)
    # Then it tried three times, waiting 1 s then 2 s, and was ready each time it ran
    assert calls == [True, True, True]
    assert waits == [1.0, 2.0]


def test_a_worker_that_dies_at_start_is_restarted_with_backoff_and_reported(
    fake: tuple[FakeX, FakeXServer], tmp_path: Path
) -> None:
    # Given a classifier whose model file is damaged: every worker dies as it loads it
    broken = tmp_path / "classifier"
    broken.mkdir()
    shipped = Path(aircraftml.__file__).parent / "models" / "classifier"
    shutil.copy(shipped / "model.json", broken / "model.json")
    (broken / "model.onnx").write_bytes(b"not an onnx model" * 100)
    fake_x, server = fake
    bot = Bot(fake_x, server.base_url, tmp_path, env={"AIRCRAFTML_CLASSIFIER_DIR": str(broken)})
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        serve = subprocess.Popen(
            [sys.executable, "-m", "aircraftml", "serve"], env=bot.env, stderr=log
        )
    bot.processes.append(serve)
    try:
        # When serve runs / Then the worker is restarted after 1 s, 2 s, 4 s... not every second
        wait_for(lambda: "restarting in 4 s" in log_path.read_text(), 60, "the third restart")
        log = log_path.read_text()
        assert "restarting in 1 s" in log and "restarting in 2 s" in log
        assert "worker cannot start: cannot load" in log and "Traceback" not in log
        # And /readyz says the workers are not ready while /healthz stays live
        answer = readyz(bot)
        assert answer.status_code == 503 and "worker-0" in answer.json()["workers"]
        assert httpx.get(f"http://127.0.0.1:{bot.port}/healthz").status_code == 200
    finally:
        bot.stop()
