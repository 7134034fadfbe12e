"""Soak: the bot under a mixed load for minutes; every mention must get exactly one reply.

    python benchmarks/bench_soak.py [--minutes 3] [--rate 1.0] [--workers 2]

On this machine: the fake X on a loopback thread of this process, and the bot as real
processes (``aircraftml webhook`` and ``--workers`` ``aircraftml worker``, SQLite queue and
state in a temporary folder). Mentions arrive at ``--rate`` per second, signed webhook
deliveries from the fake X: mostly a small photo, some with a drawn airliner (annotated
reply with alt text), some without a photo (the help reply), some delivered twice, and some
users mention twice with photos that get the same words. Meanwhile, on a schedule:

    X's rate limit       POST /2/tweets allows 12 replies per 10 s, and every 40 s one
                         429 whose reset is 5 s away (X's other windows)
    5xx bursts           every 20 s four 503s on POST /2/tweets, every 25 s two 500s on photos
    slow photo hosts     every 15 s two photos answered after 4 s; every 45 s one after 12 s,
                         beyond the 10 s a worker has for one mention
    a worker killed      every 30 s one worker gets SIGKILL and a new one is started

After the mentions stop it waits (``--settle-s`` at most) for the queue to empty, then prints
mentions, replies (mentions answered), duplicates (replies beyond the first), dead letters
and lost (neither answered nor dead-lettered). Expected: replies = mentions, 0 duplicates,
0 dead letters, 0 lost.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from PIL import Image

from aircraftml.demo import draw_airliner
from aircraftml.platforms.fake_x import FakeX, FakeXConfig, FakeXServer
from aircraftml.queue.sqlite import SqliteQueue

VISIBILITY_TIMEOUT_S = 10
REPLIES_PER_WINDOW, WINDOW_S = 12, 10.0


@dataclass
class Chaos:
    """One fault on a schedule: ``act`` every ``every_s`` seconds, first after ``every_s``."""

    name: str
    every_s: float
    act: Callable[[], None]
    times: int = 0


@dataclass
class Bot:
    """The bot's processes, each with its log in ``var/logs``."""

    var: Path
    env: dict[str, str]
    port: int
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    others: list[subprocess.Popen[bytes]] = field(default_factory=list)
    started: int = 0

    def start(self, command: str) -> subprocess.Popen[bytes]:
        (self.var / "logs").mkdir(exist_ok=True)
        self.started += 1
        with (self.var / "logs" / f"{command}-{self.started}.log").open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "aircraftml", command],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        (self.workers if command == "worker" else self.others).append(process)
        return process

    def kill_a_worker(self) -> None:
        victim = random.choice([w for w in self.workers if w.poll() is None])
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        self.workers.remove(victim)
        self.start("worker")

    def stop(self) -> None:
        for process in self.workers + self.others:
            process.terminate()
        for process in self.workers + self.others:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description="Mixed load for minutes: lost or doubled?")
    parser.add_argument("--minutes", type=float, default=3.0, help="load time (default 3)")
    parser.add_argument("--rate", type=float, default=1.0, help="mentions per second")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--settle-s", type=float, default=180.0, help="wait for the backlog")
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    random.seed(args.seed)
    fake = FakeX(FakeXConfig(retry_delays_s=(1.0, 3.0)))
    fake.set_rate_limit("POST /2/tweets", REPLIES_PER_WINDOW, window_s=WINDOW_S)
    with tempfile.TemporaryDirectory() as folder, FakeXServer(fake) as server:
        var = Path(folder)
        bot = start_bot(fake, server.base_url, var, args.workers)
        try:
            posts = run_load(fake, bot, args.minutes * 60, args.rate)
            settle(fake, var / "queue.sqlite3", posts, args.settle_s)
            report(fake, var / "queue.sqlite3", posts, args)
        finally:
            bot.stop()


def start_bot(fake: FakeX, fake_url: str, var: Path, workers: int) -> Bot:
    port = _free_port()
    env = {
        **os.environ,
        **fake.bot_environ(fake_url),
        "AIRCRAFTML_QUEUE_URL": f"sqlite://{var / 'queue.sqlite3'}",
        "AIRCRAFTML_STATE_URL": f"sqlite://{var / 'state.sqlite3'}",
        "AIRCRAFTML_PORT": str(port),
        "AIRCRAFTML_VISIBILITY_TIMEOUT_S": str(VISIBILITY_TIMEOUT_S),
    }
    bot = Bot(var, env, port)
    bot.start("webhook")
    for _ in range(workers):
        bot.start("worker")
    _wait_for(lambda: _healthy(port), 60, "the webhook")
    fake.register_webhook(f"http://127.0.0.1:{port}/webhook")
    return bot


def run_load(fake: FakeX, bot: Bot, duration_s: float, rate: float) -> list[str]:
    """Mentions at ``rate`` per second for ``duration_s`` while the chaos runs; their ids."""
    chaos = chaos_schedule(fake, bot)
    posts: list[str] = []
    photos = Photos()
    started = time.monotonic()
    next_at = started
    while (now := time.monotonic()) - started < duration_s:
        for fault in chaos:
            if now - started >= fault.every_s * (fault.times + 1):
                fault.times += 1
                fault.act()
        posts += mention_once(fake, len(posts), photos)
        next_at += 1.0 / rate
        time.sleep(max(0.0, next_at - time.monotonic()))
    print("chaos: " + ", ".join(f"{f.name} x{f.times}" for f in chaos))
    return posts


def chaos_schedule(fake: FakeX, bot: Bot) -> list[Chaos]:
    return [
        Chaos(
            "429 from X",
            40,
            lambda: fake.inject_fault("/2/tweets", "429", reset_after_s=5, method="POST"),
        ),
        Chaos(
            "503 bursts", 20, lambda: fake.inject_fault("/2/tweets", "503", count=4, method="POST")
        ),
        Chaos("photo 500s", 25, lambda: fake.inject_fault("/media/*", "500", count=2)),
        Chaos(
            "slow photos (4 s)",
            15,
            lambda: fake.inject_fault("/media/*", "slow", count=2, delay_s=4),
        ),
        Chaos(
            "very slow photo (12 s)", 45, lambda: fake.inject_fault("/media/*", "slow", delay_s=12)
        ),
        Chaos("worker killed", 30, bot.kill_a_worker),
    ]


class Photos:
    """Small photos of many colours (each mention's own), and the drawn airliner."""

    def __init__(self) -> None:
        self.airliner = draw_airliner()

    def small(self) -> bytes:
        out = io.BytesIO()
        colour = tuple(random.randrange(256) for _ in range(3))
        Image.new("RGB", (160, 120), colour).save(out, format="JPEG")
        return out.getvalue()


def mention_once(fake: FakeX, n: int, photos: Photos) -> list[str]:
    """One kind of mention, chosen at random; the ids of the posts that need a reply."""
    kind = random.random()
    if kind < 0.10:
        return [_mention(fake, f"user{n}", "what is this?", [photos.airliner])]
    if kind < 0.15:
        return [_mention(fake, f"user{n}", "hello there", [])]  # the help reply
    if kind < 0.25:  # X delivers it twice
        post_id = _mention(fake, f"user{n}", "plane?", [photos.small()])
        fake.deliver(fake.event_for(post_id), post_id=post_id)
        return [post_id]
    if kind < 0.35:  # the same user again, with a photo that gets the same words
        return [_mention(fake, "regular", f"and this one? {n}", [photos.small()])]
    return [_mention(fake, f"user{n}", "plane?", [photos.small()])]


def settle(fake: FakeX, queue_path: Path, posts: list[str], settle_s: float) -> None:
    queue = SqliteQueue(queue_path)
    try:

        def done() -> bool:
            stats = queue.stats()
            return stats.ready + stats.in_flight + stats.delayed == 0

        _wait_for(done, settle_s, "the queue to empty", fail=False)
        time.sleep(3)  # room for a late duplicate
    finally:
        queue.close()


def report(fake: FakeX, queue_path: Path, posts: list[str], args: argparse.Namespace) -> None:
    replies = Counter(r.in_reply_to_id for r in fake.replies)
    queue = SqliteQueue(queue_path)
    try:
        dead_posts = {json.loads(d.body).get("post_id") for d in queue.dead_letters(10_000)}
        dead = queue.stats().dead
    finally:
        queue.close()
    answered = sum(1 for p in posts if replies[p] > 0)
    duplicates = sum(max(replies[p] - 1, 0) for p in posts)
    lost = sum(1 for p in posts if replies[p] == 0 and p not in dead_posts)
    refused = Counter(s for m, p, s in fake.request_log if (m, p) == ("POST", "/2/tweets"))
    print(
        f"soak {args.minutes:g} min at {args.rate:g}/s, {args.workers} workers: "
        f"mentions {len(posts)}, replies {answered}, duplicates {duplicates}, "
        f"dead letters {dead}, lost {lost} "
        f"(POST /2/tweets: {refused[201]} created, {refused[429]} x 429, {refused[503]} x 503, "
        f"{refused[403]} x 403)"
    )


def _mention(fake: FakeX, author: str, text: str, photos: list[bytes]) -> str:
    return str(fake.mention(author, text, photos=photos).post_id)


def _healthy(port: int) -> bool:
    try:
        return bool(httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200)
    except httpx.HTTPError:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(
    condition: Callable[[], bool], timeout_s: float, what: str, fail: bool = True
) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            if fail:
                raise SystemExit(f"timed out after {timeout_s:.0f} s waiting for {what}")
            print(f"still waiting for {what} after {timeout_s:.0f} s")
            return
        time.sleep(0.2)


if __name__ == "__main__":
    main()
