"""Run the bot on one machine: the webhook in this process, N worker processes beside it.

Worker processes are started with ``spawn`` (each loads its own ONNX sessions), stopped with
SIGTERM (each finishes the request in hand), and restarted if one dies. A worker killed with
SIGKILL loses nothing: its request comes back from the queue after the visibility timeout.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
from multiprocessing.process import BaseProcess
from types import FrameType

import uvicorn

from aircraftml.assembly import build_endpoint, build_handler, build_queue, build_state
from aircraftml.config import Settings
from aircraftml.logs import TEXT_FORMAT, configure_logging
from aircraftml.web.site import Site
from aircraftml.webhook import create_app
from aircraftml.worker import Worker

logger = logging.getLogger(__name__)

RESTART_CHECK_S = 1.0


def run_worker(settings: Settings) -> None:
    """One worker: take requests until SIGTERM or SIGINT, finishing the one in hand."""
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    queue = build_queue(settings)
    state = build_state(settings)
    handler = build_handler(settings, state)
    logger.info("worker ready")
    try:
        Worker(queue, handler, visibility_timeout_s=settings.visibility_timeout_s).run(stop)
    finally:
        queue.close()
        state.close()


def _worker_main(settings: Settings, log_level: int) -> None:
    configure_logging(log_level, settings.log_format)
    run_worker(settings)


LOG_FORMAT = TEXT_FORMAT


class WorkerPool:
    """N worker processes, restarted when one dies, stopped together."""

    def __init__(self, settings: Settings, *, log_level: int = logging.INFO) -> None:
        self._settings = settings
        self._log_level = log_level
        self._context = multiprocessing.get_context("spawn")
        self._processes: list[BaseProcess] = []
        self._stopping = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, daemon=True)

    def start(self) -> None:
        self._processes = [self._spawn(n) for n in range(self._settings.workers)]
        self._supervisor.start()

    def pids(self) -> list[int | None]:
        return [p.pid for p in self._processes]

    def status(self) -> str:
        """``worker-0 pid 123 running, worker-1 pid 124 exited 1``: for the dashboard."""
        return ", ".join(
            f"worker-{n} pid {p.pid} " + ("running" if p.is_alive() else f"exited {p.exitcode}")
            for n, p in enumerate(self._processes)
        )

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stopping.set()
        if self._supervisor.is_alive():
            self._supervisor.join()  # so that no restart slips in after this
        for process in self._processes:
            process.terminate()  # SIGTERM: finish the request in hand
        for process in self._processes:
            process.join(timeout_s)
            if process.is_alive():
                process.kill()

    def _spawn(self, number: int) -> BaseProcess:
        process = self._context.Process(
            target=_worker_main,
            args=(self._settings, self._log_level),
            name=f"worker-{number}",
            daemon=True,
        )
        process.start()
        return process

    def _supervise(self) -> None:
        while not self._stopping.wait(RESTART_CHECK_S):
            for number, process in enumerate(self._processes):
                if not process.is_alive() and not self._stopping.is_set():
                    logger.warning("worker-%d exited with %s; restarting", number, process.exitcode)
                    self._processes[number] = self._spawn(number)


def serve(settings: Settings, *, log_level: int = logging.INFO, workers: bool = True) -> None:
    """The whole bot: webhook on ``settings.host:port`` and ``settings.workers`` workers.

    With ``workers=False`` only the webhook runs (scale-out: workers run elsewhere). SIGTERM
    and SIGINT stop it: the webhook first, then the workers, each finishing its request.
    """
    # uvicorn handles SIGTERM itself, then raises it again once it has shut down: with the
    # default handler that would end this process before it stops the worker processes.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    queue = build_queue(settings)
    pool = WorkerPool(settings, log_level=log_level) if workers else None
    site = Site(settings, queue, pool.status if pool is not None else None, page=workers)
    app = create_app(build_endpoint(settings, queue.send), extra_routes=site.routes)
    try:
        if pool is not None:
            pool.start()
        logger.info(
            "webhook on http://%s:%d/webhook, %d workers, queue %s",
            settings.host,
            settings.port,
            settings.workers if pool else 0,
            settings.queue_url,
        )
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    finally:
        site.close()
        if pool is not None:
            pool.stop()
        queue.close()


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)
