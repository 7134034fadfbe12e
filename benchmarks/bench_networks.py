"""Mention-to-reply latency on Mastodon and Bluesky: a 1 s poll interval, 2 workers.

    python benchmarks/bench_networks.py [--network mastodon|bluesky|both] [--mentions 1000]
                                        [--rate 4] [--poll-interval-s 1] [--workers 2]

Each network's fake runs on a loopback thread of this process; the bot runs as real
processes (``aircraftml poll`` and ``--workers`` ``aircraftml worker``, SQLite queue and
state in a temporary folder). Mentions with a small photo arrive at ``--rate`` per second;
the latency of each is the time from its creation on the fake to the fake recording the
bot's reply. Prints, per network: mentions, replies, duplicates, dead letters, and the
latency p50 / p90 / max. Target: p50 <= 2 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from e2e_support import Bot, jpeg, settled, wait_for
from network_support import NETWORKS, FakeNetwork, fake_network


def run(network: str, mentions: int, rate: float, poll_interval_s: float, workers: int) -> None:
    with fake_network(network) as net, tempfile.TemporaryDirectory() as var:
        replied_at: dict[str, float] = {}

        def on_reply(reply: Any) -> None:
            parent = reply.parent_uri if network == "bluesky" else reply.in_reply_to_id
            replied_at.setdefault(parent, time.time())

        net.on_reply(on_reply)
        env = {"AIRCRAFTML_POLL_INTERVAL_S": str(poll_interval_s)}
        bot = Bot(net.fake, net.base_url, Path(var), env=env)
        try:
            _measure(net, bot, replied_at, mentions, rate, workers)
        finally:
            bot.stop()


def _measure(
    net: FakeNetwork,
    bot: Bot,
    replied_at: dict[str, float],
    mentions: int,
    rate: float,
    workers: int,
) -> None:
    bot.start("poll")
    for _ in range(workers):
        bot.start("worker")
    queue = bot.queue()
    warm = net.mention("warmup", "?", [jpeg()])  # the workers load their models first
    wait_for(lambda: warm in replied_at, 120, "the warm-up reply")
    photo = jpeg(size=(160, 120))
    created: dict[str, float] = {}
    started = time.monotonic()
    for n in range(mentions):
        time.sleep(max(0.0, started + n / rate - time.monotonic()))
        post = net.mention(f"user{n}", "what is it?", [photo])
        created[post] = time.time()
    wait_for(lambda: all(p in replied_at for p in created) or queue.stats().dead, 600, "replies")
    wait_for(lambda: settled(queue), 60, "an empty queue")
    latencies = sorted(replied_at[p] - created[p] for p in created if p in replied_at)
    replies = net.replied_to()
    duplicates = len(replies) - len(set(replies))
    q = statistics.quantiles(latencies, n=10) if len(latencies) > 1 else latencies * 9
    print(
        f"{net.name}: {mentions} mentions at {rate}/s, {len(latencies)} replied, "
        f"{duplicates} duplicates, {queue.stats().dead} dead letters; latency "
        f"p50 {statistics.median(latencies):.2f} s, p90 {q[8]:.2f} s, max {latencies[-1]:.2f} s",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", choices=[*NETWORKS, "both"], default="both")
    parser.add_argument("--mentions", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=4.0, help="mentions per second")
    parser.add_argument("--poll-interval-s", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    for network in NETWORKS if args.network == "both" else (args.network,):
        run(network, args.mentions, args.rate, args.poll_interval_s, args.workers)


if __name__ == "__main__":
    main()
