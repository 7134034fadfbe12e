"""Helpers for the end-to-end tests (tests/test_bot_e2e.py, on SQLite and on SQS + DynamoDB):
photos, waiting, a fast fake X, and the bot's processes started with ``aircraftml`` commands
and AIRCRAFTML_* settings on either backend."""

from __future__ import annotations

import contextlib
import io
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import httpx
from PIL import Image

from aircraftml.platforms.fake_x import FakeReply, FakeX, FakeXConfig
from aircraftml.queue.base import RequestQueue
from aircraftml.queue.sqlite import SqliteQueue

VISIBILITY_TIMEOUT_S = 6
AWS_ACCOUNT = "123456789012"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], object], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.05)


def jpeg(
    colour: tuple[int, int, int] = (120, 160, 220), size: tuple[int, int] = (320, 240)
) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="JPEG")
    return out.getvalue()


def airliner_photo() -> bytes:
    """A drawing of an airliner that the shipped detector finds (score 0.99)."""
    from aircraftml.demo import draw_airliner

    return draw_airliner()


def fast_fake_x() -> FakeX:
    """A fake X with short webhook retries and rate limits no test reaches."""
    fake = FakeX(FakeXConfig(retry_delays_s=(0.2, 0.5)))
    for route in ("POST /2/tweets", "POST /2/media/upload", "POST /2/media/metadata"):
        fake.set_rate_limit(route, 100_000)
    fake.set_rate_limit("GET /2/tweets/:id", 100_000)
    fake.set_rate_limit("GET /2/users/:id/tweets", 100_000)
    return fake


def replies_to(fake: FakeX, post_id: str) -> list[FakeReply]:
    return [r for r in fake.replies if r.in_reply_to_id == post_id]


def settled(queue: RequestQueue) -> bool:
    """Nothing waiting, being worked on or delayed (dead letters do not count)."""
    stats = queue.stats()
    return stats.ready + stats.in_flight + stats.delayed == 0


class Bot:
    """The bot's processes, started with ``aircraftml`` commands and AIRCRAFTML_* settings.

    By default the queue and state are SQLite files in ``var``; pass ``queue_url``,
    ``state_url``, ``open_queue`` (how this process opens the same queue) and ``env``
    (e.g. AWS credentials) for other backends.
    """

    def __init__(
        self,
        fake: FakeX,
        base_url: str,
        var: Path,
        *,
        queue_url: str | None = None,
        state_url: str | None = None,
        open_queue: Callable[[], RequestQueue] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.queue_path = var / "queue.sqlite3"
        self.log_dir = var / "logs"
        self._open_queue = open_queue or (lambda: SqliteQueue(self.queue_path))
        self.env = {
            **os.environ,
            **fake.bot_environ(base_url),
            "AIRCRAFTML_QUEUE_URL": queue_url or f"sqlite://{self.queue_path}",
            "AIRCRAFTML_STATE_URL": state_url or f"sqlite://{var / 'state.sqlite3'}",
            "AIRCRAFTML_PORT": str(self.port),
            "AIRCRAFTML_VISIBILITY_TIMEOUT_S": str(VISIBILITY_TIMEOUT_S),
            "AIRCRAFTML_MAX_RECEIVES": "3",
            "AIRCRAFTML_WORKERS": "1",
            **(env or {}),
        }
        self.processes: list[subprocess.Popen[bytes]] = []

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhook"

    def start(self, command: str, **env: str) -> subprocess.Popen[bytes]:
        with self._log_file(command) as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "aircraftml", command],
                env={**self.env, **env},
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        self.processes.append(process)
        if command in ("webhook", "serve"):
            wait_for(self._webhook_up, 30, f"aircraftml {command} to listen")
        return process

    def _log_file(self, command: str) -> BinaryIO:
        """``var/logs/<command>-<n>.log``: each process's log, kept for a failed test."""
        self.log_dir.mkdir(exist_ok=True)
        return (self.log_dir / f"{command}-{len(self.processes)}.log").open("wb")

    def _webhook_up(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/healthz").status_code == 200
        except httpx.HTTPError:
            return False

    def queue(self) -> RequestQueue:
        return self._open_queue()

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


@contextmanager
def sqs_bot(
    fake: FakeX,
    base_url: str,
    var: Path,
    moto_endpoint: str,
    make_aws_client: Callable[[str], Any],
) -> Iterator[Bot]:
    """A Bot on a fresh SQS queue (with its dead-letter queue) and DynamoDB table on moto."""
    from aircraftml.queue.sqs import SqsQueue
    from aircraftml.state.dynamodb import DynamoDbStateStore

    queue = SqsQueue.create(
        f"requests-{uuid.uuid4().hex[:10]}",
        max_receives=3,
        visibility_timeout_s=VISIBILITY_TIMEOUT_S,
        client=make_aws_client("sqs"),
        owns_client=True,
        drain_wait_s=0,
    )
    table = DynamoDbStateStore(f"state-{uuid.uuid4().hex[:10]}", client=make_aws_client("dynamodb"))
    table.create_table()
    name = queue.queue_url.rsplit("/", 1)[-1]
    bot = Bot(
        fake,
        base_url,
        var,
        queue_url=f"sqs://us-east-1/{AWS_ACCOUNT}/{name}?dlq={name}-dlq&endpoint_url={moto_endpoint}",
        state_url=f"dynamodb://{table.table_name}?endpoint_url={moto_endpoint}",
        open_queue=lambda: queue,
        env=AWS_ENV,
    )
    try:
        yield bot
    finally:
        bot.stop()
        queue.close()


def worker_pids(serve_pid: int) -> set[int]:
    """The worker processes that ``aircraftml serve`` (``serve_pid``) has started."""
    children: set[int] = set()
    for task in Path(f"/proc/{serve_pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            children.update(int(p) for p in (task / "children").read_text().split())
    return {p for p in children if b"spawn_main" in _cmdline(p)}


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
