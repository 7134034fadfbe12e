"""A worker that does not end on SIGTERM: the pool writes its stacks, then kills it."""

from __future__ import annotations

import faulthandler
import logging
import multiprocessing
import signal
import time

import pytest

from aircraftml.serve import STACKS_SIGNAL, WorkerPool


def _stuck_worker(ready: multiprocessing.synchronize.Event) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # as a worker stuck where SIGTERM can't reach
    faulthandler.register(STACKS_SIGNAL, all_threads=True)
    ready.set()
    while True:
        time.sleep(0.1)


def test_a_worker_stuck_past_its_time_is_killed_after_its_stacks_are_written(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    process = context.Process(target=_stuck_worker, args=(ready,), daemon=True)
    process.start()
    assert ready.wait(30)
    process.terminate()
    process.join(0.5)
    assert process.is_alive()  # SIGTERM did not end it
    with caplog.at_level(logging.WARNING, logger="aircraftml.serve"):
        WorkerPool._kill_stuck(3, process, timeout_s=0.5)
    assert not process.is_alive()
    assert process.exitcode == -signal.SIGKILL
    assert "worker-3" in caplog.text and "did not stop within" in caplog.text
    stacks = capfd.readouterr().err
    assert "_stuck_worker" in stacks  # where it was held, named in the log
