"""Replies per second of 1, 2 and 4 ``aircraftml worker`` processes on SQS + DynamoDB.

    python benchmarks/bench_workers_sqs.py [--mentions 60] [--runs 3] [--workers 1 2 4]
    python benchmarks/bench_workers_sqs.py --endpoint-url http://127.0.0.1:4566  # LocalStack...

Everything runs on this machine: moto's server (SQS and DynamoDB; unless ``--endpoint-url``)
and the fake X on loopback threads of this process, and the workers as real processes with
the real models and the real X client. For each worker count: start the workers, wait until
each has loaded its models, then per run create ``--mentions`` posts with a small photo on
the fake X, put their requests on the queue at once, and time until every one has a reply
(at most ``--timeout-s`` per run). Prints the median of the runs. The photo is a blank
160x120 JPEG (detector only: measures the plumbing), or with ``--plane`` a drawn
airliner (detector, classifier, annotated image uploaded with its alt text).

Moto is a single Python server process shared with the fake X here, and the workers share
this machine's cores with both: the figures bound what one machine does, not what SQS,
DynamoDB and Lambda do (there each worker has its own CPU and the services scale out).
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from moto_endpoint import endpoint
from PIL import Image

from aircraftml.platforms.fake_x import FakeX, FakeXConfig, FakeXServer
from aircraftml.platforms.x_events import requests_from_delivery
from aircraftml.queue.sqs import SqsQueue
from aircraftml.state.dynamodb import DynamoDbStateStore

ACCOUNT = "123456789012"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def small_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (160, 120), (120, 160, 220)).save(out, format="JPEG")
    return out.getvalue()


def plane_photo() -> bytes:
    from aircraftml.demo import draw_airliner

    return draw_airliner()


def fake_x() -> FakeX:
    fake = FakeX(FakeXConfig())
    for route in ("POST /2/tweets", "POST /2/media/upload", "POST /2/media/metadata"):
        fake.set_rate_limit(route, 1_000_000)
    fake.set_rate_limit("GET /2/tweets/:id", 1_000_000)
    return fake


def worker_env(fake: FakeX, base_url: str, queue_url: str, state_url: str) -> dict[str, str]:
    return {
        **os.environ,
        **AWS_ENV,
        **fake.bot_environ(base_url),
        "AIRCRAFTML_QUEUE_URL": queue_url,
        "AIRCRAFTML_STATE_URL": state_url,
        "AIRCRAFTML_VISIBILITY_TIMEOUT_S": "60",
    }


@contextmanager
def workers(count: int, env: dict[str, str], log_dir: Path) -> Iterator[None]:
    """``count`` worker processes, returned once each has loaded its models."""
    logs = [log_dir / f"worker-{uuid.uuid4().hex[:6]}.log" for _ in range(count)]
    processes = []
    for log in logs:
        with log.open("wb") as out:
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "aircraftml", "worker"],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
    try:
        deadline = time.monotonic() + 120
        while not all(b"worker ready" in log.read_bytes() for log in logs):
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise RuntimeError(f"workers did not start; see {log_dir}")
            time.sleep(0.2)
        yield
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def one_run(fake: FakeX, queue: SqsQueue, mentions: int, timeout_s: float, photo: bytes) -> float:
    """Replies per second for ``mentions`` requests queued at once."""
    config = fake.config
    tag = uuid.uuid4().hex[:6]
    bodies = []
    for n in range(mentions):
        post_id = fake.create_post(f"u{tag}{n}", "@aircraftml plane?", [photo])
        [request] = requests_from_delivery(
            fake.event_for(post_id), config.bot_user_id, config.bot_handle, time.time()
        )
        bodies.append(request.to_json())
    replies_before = len(fake.replies)
    started_s = time.monotonic()
    queue.send(bodies)
    while len(fake.replies) - replies_before < mentions:
        if time.monotonic() - started_s > timeout_s:
            done = len(fake.replies) - replies_before
            print(f"    run stopped after {timeout_s:.0f} s with {done}/{mentions} replies")
            return done / timeout_s
        time.sleep(0.02)
    return mentions / (time.monotonic() - started_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=int, default=60, help="requests per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--timeout-s", type=float, default=90.0, help="most time for one run")
    parser.add_argument(
        "--plane",
        action="store_true",
        help="a drawn airliner the detector finds: classify, annotate, upload",
    )
    parser.add_argument("--endpoint-url", help="an SQS/DynamoDB-compatible server (not moto)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    fake = fake_x()
    photo = plane_photo() if args.plane else small_jpeg()
    with (
        endpoint(args.endpoint_url) as endpoint_url,
        FakeXServer(fake) as server,
        tempfile.TemporaryDirectory() as log_dir,
    ):
        import boto3

        def client(service: str) -> object:
            return boto3.client(service, endpoint_url=endpoint_url, **_credentials())

        print(f"SQS + DynamoDB at {endpoint_url}{' (moto)' if not args.endpoint_url else ''}")
        what = "a drawn airliner (aircraftml.demo)" if args.plane else "a blank 160x120 JPEG"
        print(f"photo: {what}")
        print(
            f"{args.mentions} mentions per run, median of {args.runs} runs, cpus={os.cpu_count()}"
        )
        for count in args.workers:
            name = f"bench-{uuid.uuid4().hex[:8]}"
            queue = SqsQueue.create(
                name, max_receives=5, visibility_timeout_s=60, client=client("sqs")
            )
            table = DynamoDbStateStore(f"{name}-state", client=client("dynamodb"))
            table.create_table()
            queue_url = (
                f"sqs://us-east-1/{ACCOUNT}/{name}?dlq={name}-dlq&endpoint_url={endpoint_url}"
            )
            state_url = f"dynamodb://{table.table_name}?endpoint_url={endpoint_url}"
            env = worker_env(fake, server.base_url, queue_url, state_url)
            with workers(count, env, Path(log_dir)):
                rates = [
                    one_run(fake, queue, args.mentions, args.timeout_s, photo)
                    for _ in range(args.runs)
                ]
            runs = ", ".join(f"{r:.1f}" for r in rates)
            print(f"{count} worker(s): {statistics.median(rates):6.1f} replies/s  (runs: {runs})")
        annotated = sum(1 for r in fake.replies if r.media)
        print(f"replies with an annotated image: {annotated}/{len(fake.replies)}")


def _credentials() -> dict[str, str]:
    return {
        "region_name": AWS_ENV["AWS_DEFAULT_REGION"],
        "aws_access_key_id": AWS_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": AWS_ENV["AWS_SECRET_ACCESS_KEY"],
    }


if __name__ == "__main__":
    main()
