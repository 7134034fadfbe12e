"""Run the bot on one machine: the webhook in this process, N worker processes beside it.

Worker processes are started with ``spawn`` (each loads its own ONNX sessions), stopped with
SIGTERM (each finishes the request in hand), and restarted if one dies. A worker killed with
SIGKILL loses nothing: its request comes back from the queue after the visibility timeout.
Workers die with ``serve`` even when it is killed with SIGKILL (``_process.die_with_parent``),
and ``serve`` takes its port before it starts any worker, so a second ``serve`` on the same
port stops with an error instead of doubling the workers.
"""

from __future__ import annotations

import faulthandler
import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event as ProcessEvent
from types import FrameType
from typing import Protocol

from aircraftml._process import die_with_parent
from aircraftml.assembly import (
    build_endpoint,
    build_handler,
    build_pollers,
    build_queue,
    build_state,
    check_x_credentials,
    local_max_receives,
    probe_queue,
    probe_state,
)
from aircraftml.config import Settings, env_name
from aircraftml.errors import AircraftMLError, ConfigError
from aircraftml.logs import TEXT_FORMAT, configure_logging
from aircraftml.web.site import Site
from aircraftml.webhook import create_app
from aircraftml.webhook_server import build_server, raise_open_files_limit
from aircraftml.worker import Worker, backoff_delay_s

logger = logging.getLogger(__name__)

RESTART_CHECK_S = 1.0
STACKS_SIGNAL = signal.SIGUSR1
STACKS_WAIT_S = 1.0
# A worker whose queue or state fails waits 1, 2, 4 ... 30 s between tries, models loaded;
# one that ran this long without failing starts again from 1 s.
OUTAGE_MAX_WAIT_S = 30.0
OUTAGE_FORGOTTEN_AFTER_S = 60.0
# A worker that dies within this long of starting (a model that cannot load...) is restarted
# after 1, 2, 4 ... 60 s, not every second with its models loaded again each time.
QUICK_EXIT_S = 30.0
MAX_RESTART_DELAY_S = 60.0


def run_worker(
    settings: Settings, *, parent_pid: int | None = None, ready: ProcessEvent | None = None
) -> None:
    """One worker: take requests until SIGTERM or SIGINT, finishing the one in hand; with
    ``parent_pid``, also until that process (``serve``) is gone. ``ready`` is set while the
    models are loaded and the queue and state answer."""
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        if not stop.is_set():
            logger.info("worker stopping (%s)", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    # `kill -USR1` prints every thread's stack (the pool asks before it kills a worker
    # that outlived its time to stop)
    faulthandler.register(STACKS_SIGNAL, all_threads=True)
    if parent_pid is not None:
        die_with_parent(parent_pid, stop)
    queue = build_queue(settings)
    state = build_state(settings)
    if parent_pid is None and "x" in settings.networks:  # serve checked them for its workers
        check_x_credentials(settings)
    handler = build_handler(settings, state)
    worker = Worker(
        queue,
        handler,
        visibility_timeout_s=settings.visibility_timeout_s,
        max_receives=local_max_receives(settings),
    )

    def probe() -> None:
        probe_queue(queue)
        probe_state(state)

    logger.info("worker ready")
    try:
        keep_working(
            worker.run,
            probe=probe,
            stop=stop,
            ready=ready or threading.Event(),
        )
    finally:
        queue.close()
        state.close()
    logger.info("worker stopped")


class _Ready(Protocol):
    """What ``keep_working`` needs of ``threading.Event`` and ``multiprocessing.Event``."""

    def set(self) -> None: ...

    def clear(self) -> None: ...


def keep_working(
    run: Callable[[threading.Event], None],
    *,
    probe: Callable[[], object],
    stop: threading.Event,
    ready: _Ready,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """``run(stop)`` until ``stop`` is set. A failure outside the handler (the queue or state
    locked, full, corrupt, unreachable) does not end the process, which would be restarted
    and reload its models every second: it is logged, ``ready`` is cleared, and the worker
    tries again (``probe`` first) after 1, 2, 4 ... 30 s. Messages in hand stay in the
    queue and come back after their visibility timeout."""
    failures = 0
    while not stop.is_set():
        started_s = clock()
        try:
            probe()
            ready.set()
            run(stop)
        except Exception as exc:
            ready.clear()
            failures = 1 if clock() - started_s > OUTAGE_FORGOTTEN_AFTER_S else failures + 1
            wait_s = backoff_delay_s(failures, base_s=1.0, cap_s=OUTAGE_MAX_WAIT_S)
            logger.error(
                "worker: queue or state failed (%s: %s); trying again in %.0f s",
                type(exc).__name__,
                exc,
                wait_s,
            )
            stop.wait(wait_s)


def _worker_main(settings: Settings, log_level: int, parent_pid: int, ready: ProcessEvent) -> None:
    configure_logging(log_level, settings.log_format)
    try:
        run_worker(settings, parent_pid=parent_pid, ready=ready)
    except AircraftMLError as exc:  # a model or backend that cannot be loaded: one line
        logger.error("worker cannot start: %s", exc)
        raise SystemExit(1) from None


LOG_FORMAT = TEXT_FORMAT


class WorkerPool:
    """N worker processes, restarted when one dies (with backoff when they keep dying as
    soon as they start), stopped together."""

    def __init__(self, settings: Settings, *, log_level: int = logging.INFO) -> None:
        self._settings = settings
        self._log_level = log_level
        self._context = multiprocessing.get_context("spawn")
        self._processes: list[BaseProcess] = []
        self._ready: list[ProcessEvent] = []
        self._started_s: list[float] = []
        self._quick_exits: list[int] = []
        self._restart_at_s: list[float | None] = []
        self._stopping = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, daemon=True)

    def start(self) -> None:
        count = self._settings.workers
        self._ready = [self._context.Event() for _ in range(count)]
        self._started_s, self._quick_exits = [0.0] * count, [0] * count
        self._restart_at_s = [None] * count
        self._processes = [self._spawn(n) for n in range(count)]
        self._supervisor.start()

    def pids(self) -> list[int | None]:
        return [p.pid for p in self._processes]

    def check_ready(self) -> str:
        """Raise unless every worker is alive with its models loaded and its queue and state
        answering; the count when they are."""
        problems = [
            f"worker-{n} {'not running' if not p.is_alive() else 'not ready'}"
            for n, (p, ready) in enumerate(zip(self._processes, self._ready, strict=True))
            if not (p.is_alive() and ready.is_set())
        ]
        if problems:
            raise RuntimeError(", ".join(problems))
        return f"{len(self._processes)} ready"

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
        deadline_s = time.monotonic() + timeout_s
        for number, process in enumerate(self._processes):
            process.join(max(0.0, deadline_s - time.monotonic()))
            if process.is_alive():
                self._kill_stuck(number, process, timeout_s)

    @staticmethod
    def _kill_stuck(number: int, process: BaseProcess, timeout_s: float) -> None:
        """SIGKILL, after its threads' stacks are written to its stderr: what held it is
        then in the log. Its request comes back from the queue after the visibility
        timeout."""
        logger.warning(
            "worker-%d (pid %s) did not stop within %.0f s of SIGTERM: its stacks follow, "
            "then it is killed",
            number,
            process.pid,
            timeout_s,
        )
        if process.pid is not None:
            os.kill(process.pid, STACKS_SIGNAL)
            process.join(STACKS_WAIT_S)
        process.kill()
        process.join(STACKS_WAIT_S)

    def _spawn(self, number: int) -> BaseProcess:
        self._ready[number].clear()
        self._started_s[number] = time.monotonic()
        process = self._context.Process(
            target=_worker_main,
            args=(self._settings, self._log_level, os.getpid(), self._ready[number]),
            name=f"worker-{number}",
            daemon=True,
        )
        process.start()
        return process

    def _supervise(self) -> None:
        while not self._stopping.wait(RESTART_CHECK_S):
            for number, process in enumerate(self._processes):
                if not process.is_alive() and not self._stopping.is_set():
                    self._restart_when_due(number, process)

    def _restart_when_due(self, number: int, process: BaseProcess) -> None:
        now_s = time.monotonic()
        restart_at_s = self._restart_at_s[number]
        if restart_at_s is None:
            ran_s = now_s - self._started_s[number]
            quick = ran_s < QUICK_EXIT_S
            self._quick_exits[number] = self._quick_exits[number] + 1 if quick else 0
            delay_s = (
                backoff_delay_s(self._quick_exits[number], base_s=1.0, cap_s=MAX_RESTART_DELAY_S)
                if quick
                else 0.0
            )
            logger.warning(
                "worker-%d exited with %s after %.0f s; restarting in %.0f s",
                number,
                process.exitcode,
                ran_s,
                delay_s,
            )
            restart_at_s = self._restart_at_s[number] = now_s + delay_s
        if now_s >= restart_at_s:
            self._restart_at_s[number] = None
            self._processes[number] = self._spawn(number)


def start_pollers(settings: Settings, stop: threading.Event) -> list[threading.Thread]:
    """A thread polling each network without webhooks (Mastodon...) into the queue, until
    ``stop``; credentials are checked before any starts (ConfigError)."""
    queue, state = build_queue(settings), build_state(settings)
    pollers = build_pollers(settings, state, queue.send)
    threads = [
        threading.Thread(target=p.run, args=(stop,), name=f"poller-{p.network}", daemon=True)
        for p in pollers
    ]
    for thread in threads:
        thread.start()
    return threads


def run_pollers(settings: Settings) -> None:
    """Only the pollers (scale-out: run them on as many machines as you like), until
    SIGTERM or SIGINT."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
    threads = start_pollers(settings, stop)
    logger.info("polling %s", ", ".join(t.name for t in threads) or "nothing")
    for thread in threads:
        thread.join()


def serve(settings: Settings, *, log_level: int = logging.INFO, workers: bool = True) -> None:
    """The whole bot on ``settings.host:port``: the webhook (when X is served), the health
    endpoints, ``/metrics``, the page and ``/admin`` (``web.site``); a poller for each network
    without webhooks, and ``settings.workers`` workers.

    With ``workers=False`` only the webhook, ``/metrics`` and pollers run (scale-out: workers run
    elsewhere). SIGTERM and SIGINT stop it: the webhook first, then the pollers and the
    workers, each finishing its request.
    """
    # uvicorn handles SIGTERM itself, then raises it again once it has shut down: with the
    # default handler that would end this process before it stops the worker processes.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    webhook = "x" in settings.networks
    raise_open_files_limit()
    listener = listen(settings.host, settings.port)
    queue = build_queue(settings)
    stop_polling = threading.Event()
    polled = [n for n in settings.networks if n != "x"]
    pool = WorkerPool(settings, log_level=log_level) if workers else None
    readiness: dict[str, Callable[[], object]] = {"queue": lambda: probe_queue(queue)}
    state = build_state(settings) if pool is not None else None
    if pool is not None and state is not None:
        readiness["state"] = lambda: probe_state(state)
        readiness["workers"] = pool.check_ready
        if webhook:
            check_x_credentials(settings)  # for the workers: the webhook alone never calls X
    site = None
    try:
        site = Site(settings, queue, pool.status if pool is not None else None, page=workers)
        start_pollers(settings, stop_polling)  # Mastodon's, Bluesky's credentials checked
        if pool is not None:
            pool.start()
        endpoint = build_endpoint(settings, queue.send) if webhook else None
        app = create_app(endpoint, readiness, extra_routes=site.routes)
        server = build_server(
            app,
            host=settings.host,
            port=settings.port,
            request_timeout_s=settings.request_timeout_s,
            max_connections=settings.max_connections,
        )
        logger.info(
            "listening on http://%s:%d (%s), %d workers, queue %s%s",
            settings.host,
            settings.port,
            ", ".join(site.paths(webhook=webhook)),
            settings.workers if pool else 0,
            settings.queue_url,
            f", polling {', '.join(polled)}" if polled else "",
        )
        server.run(sockets=[listener])
    finally:
        logger.info("stopping: pollers, then workers")
        stop_polling.set()
        if site is not None:
            site.close()
        if pool is not None:
            pool.stop()
        queue.close()
        if state is not None:
            state.close()
        listener.close()


def listen(host: str, port: int) -> socket.socket:
    """The webhook's listening socket; ConfigError when the address is taken or wrong."""
    try:
        return socket.create_server((host, port), reuse_port=False, backlog=2048)
    except OSError as exc:
        raise ConfigError(
            f"{env_name('host')}/{env_name('port')}: cannot listen on {host}:{port}: "
            f"{exc.strerror or exc} (is another aircraftml serve running?)"
        ) from None


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)
