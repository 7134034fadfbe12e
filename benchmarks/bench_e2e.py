"""Mention to reply, end to end on one machine: fake X delivers a signed mention with a
photo to the bot (webhook + SQLite queue + 2 worker processes), a worker fetches the photo,
runs the models and posts the annotated reply; the clock stops when fake X records it.

Mentions are sent one at a time (latency, not throughput). Prints p50 / p90 / max.
Usage: python benchmarks/bench_e2e.py [MENTIONS] [PHOTO]   (default: 40, a drawn airliner)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from aircraftml.demo import draw_airliner, running_bot
from aircraftml.platforms.fake_x import FakeX, FakeXConfig, FakeXServer


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Mention to reply through fake X and the bot: p50 / p90 / max."
    )
    parser.add_argument("mentions", nargs="?", type=int, default=40, help="default: 40")
    parser.add_argument("photo", nargs="?", type=Path, help="default: a drawn airliner")
    args = parser.parse_args()
    mentions = args.mentions
    photo = args.photo.read_bytes() if args.photo else draw_airliner()
    fake = FakeX(FakeXConfig())
    fake.set_rate_limit("POST /2/tweets", 100_000)
    latencies_ms = []
    with (
        tempfile.TemporaryDirectory() as folder,
        FakeXServer(fake) as server,
        running_bot(fake, server, Path(folder), workers=2) as webhook_url,
    ):
        fake.register_webhook(webhook_url)
        for n in range(mentions + 2):  # the first two warm the workers up
            started = time.perf_counter()
            post_id = str(fake.mention(f"user{n}", "what is this?", photos=[photo]).post_id)
            while not any(r.in_reply_to_id == post_id for r in fake.replies):
                time.sleep(0.002)
            if n >= 2:
                latencies_ms.append((time.perf_counter() - started) * 1000)
    ordered = sorted(latencies_ms)
    print(
        f"mention to reply, {mentions} mentions, 2 workers: "
        f"p50 {statistics.median(ordered):.0f} ms, p90 {ordered[int(0.9 * len(ordered))]:.0f} ms, "
        f"max {ordered[-1]:.0f} ms"
    )


if __name__ == "__main__":
    main()
