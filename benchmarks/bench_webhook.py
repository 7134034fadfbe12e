"""The webhook under load, over real HTTP: `aircraftml webhook` in its own process, an
SQLite queue with fsync on every commit (the default), signed deliveries from this process.

Prints:
- sustained: deliveries sent at a fixed rate (open loop, so a slow answer cannot slow the
  sender down and hide itself) for a duration; p50 / p99 / max answer time, and whether
  every mention reached the queue;
- bursts: deliveries of 10 mentions each, 64 at a time, as fast as they are answered;
  events durably queued per second.

Usage: python benchmarks/bench_webhook.py [--rate 500] [--seconds 60] [--burst 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from aircraftml.platforms.x_webhook import sign_body
from aircraftml.queue.sqlite import SqliteQueue

SECRET = "bench-consumer-secret"
BOT_ID = "1000"


def delivery(first_id: int, mentions: int) -> bytes:
    tweets = [
        {
            "id_str": str(first_id + n),
            "text": "@aircraftml what is this?",
            "user": {"id_str": str(5000 + n), "screen_name": f"user{n}"},
            "entities": {
                "user_mentions": [
                    {"id_str": BOT_ID, "screen_name": "aircraftml", "indices": [0, 11]}
                ]
            },
            "extended_entities": {
                "media": [{"type": "photo", "media_url_https": "https://pbs.twimg.com/media/x.jpg"}]
            },
        }
        for n in range(mentions)
    ]
    return json.dumps({"for_user_id": BOT_ID, "tweet_create_events": tweets}).encode()


def start_webhook(var: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "AIRCRAFTML_BOT_USER_ID": BOT_ID,
        "AIRCRAFTML_BOT_HANDLE": "aircraftml",
        "AIRCRAFTML_X_CONSUMER_KEY": "k",
        "AIRCRAFTML_X_CONSUMER_SECRET": SECRET,
        "AIRCRAFTML_X_ACCESS_TOKEN": "t",
        "AIRCRAFTML_X_ACCESS_TOKEN_SECRET": "s",
        "AIRCRAFTML_QUEUE_URL": f"sqlite://{var / 'queue.sqlite3'}",
        "AIRCRAFTML_PORT": str(port),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "aircraftml", "webhook"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz").status_code == 200:
                return process, url + "/webhook"
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    sys.exit("the webhook did not start")


class RawHttp:
    """A tiny keep-alive HTTP/1.1 client on asyncio streams: an httpx client costs more CPU
    per request than the server under test, so it could not hold the rate on two cores."""

    def __init__(self, url: str, connections: int) -> None:
        parts = httpx.URL(url)
        self._host, self._port, self._path = parts.host, parts.port or 80, parts.path
        self._idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.Queue()
        )
        self._connections = connections

    async def open(self) -> None:
        for _ in range(self._connections):
            self._idle.put_nowait(await asyncio.open_connection(self._host, self._port))

    async def post(self, body: bytes) -> float:
        """POST a signed delivery; seconds until the whole answer was read."""
        request = (
            f"POST {self._path} HTTP/1.1\r\nhost: {self._host}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
            f"x-twitter-webhooks-signature: {sign_body(body, SECRET)}\r\n\r\n"
        ).encode() + body
        reader, writer = await self._idle.get()
        started = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        elapsed = time.perf_counter() - started
        self._idle.put_nowait((reader, writer))
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"webhook answered {head.splitlines()[0]!r}")
        return elapsed


async def sustained(url: str, rate: float, seconds: float) -> list[float]:
    client = RawHttp(url, connections=64)
    await client.open()
    bodies = [delivery(10_000_000 + n, 1) for n in range(int(rate * seconds))]
    tasks = []
    started = time.perf_counter()
    for n, body in enumerate(bodies):
        delay = started + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(client.post(body)))
    return list(await asyncio.gather(*tasks))


async def bursts(url: str, events: int, per_delivery: int = 10, concurrency: int = 64) -> float:
    bodies = [
        delivery(50_000_000 + n * per_delivery, per_delivery) for n in range(events // per_delivery)
    ]
    client = RawHttp(url, connections=concurrency)
    await client.open()
    started = time.perf_counter()
    await asyncio.gather(*(client.post(body) for body in bodies))
    return len(bodies) * per_delivery / (time.perf_counter() - started)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--burst", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        var = Path(folder)
        process, url = start_webhook(var)
        try:
            latencies = asyncio.run(sustained(url, args.rate, args.seconds))
            ms = [s * 1000 for s in latencies]
            queued = SqliteQueue(var / "queue.sqlite3").stats().ready
            print(
                f"sustained {args.rate:.0f} deliveries/s for {args.seconds:.0f} s: "
                f"p50 {percentile(ms, 0.5):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms, "
                f"max {max(ms):.1f} ms; {queued} of {len(ms)} mentions queued"
            )
            events_per_s = asyncio.run(bursts(url, args.burst))
            total = SqliteQueue(var / "queue.sqlite3").stats().ready
            print(
                f"bursts of 10-mention deliveries, 64 in flight: {events_per_s:,.0f} events/s "
                f"durably queued; {total - queued} of {args.burst} queued"
            )
        finally:
            process.terminate()
            process.wait()


if __name__ == "__main__":
    main()
