"""How fast SqsQueue moves messages: a first figure, against moto's server by default.

    python benchmarks/bench_sqs_queue.py [--messages 300] [--runs 3]
    python benchmarks/bench_sqs_queue.py --endpoint-url http://127.0.0.1:4566   # LocalStack...

Prints the median of ``--runs`` runs (messages/s) of:
- send: one message per call, and SendMessageBatch of 10;
- receive(10) then one DeleteMessage per message (``ack``), and then DeleteMessageBatch
  (``ack_many``), from 1, 2 and 4 consumer threads, each with its own boto3 client.
Against moto the figures measure moto (a Python server on this machine), not SQS: they
bound our client-side overhead from below and catch regressions, nothing more. The
replies/s benchmark of whole workers comes with the worker.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import boto3
from moto_endpoint import endpoint

from aircraftml.queue.sqs import SqsQueue

BODY = '{"platform":"x","post_id":"1790000000000000000","author_id":"12345","text":"@bot"}'


def client_factory(endpoint_url: str) -> Callable[[], Any]:
    def make() -> Any:
        return boto3.client(
            "sqs",
            endpoint_url=endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )

    return make


def fresh_queue(make_client: Callable[[], Any]) -> SqsQueue:
    return SqsQueue.create(f"bench-{uuid.uuid4().hex[:12]}", client=make_client(), drain_wait_s=0)


def send_rate(make_client: Callable[[], Any], messages: int, batch: int) -> float:
    queue = fresh_queue(make_client)
    started = time.perf_counter()
    for _ in range(messages // batch):
        queue.send([BODY] * batch)
    return messages / (time.perf_counter() - started)


def consume(queue: SqsQueue, batch_ack: bool, stop: threading.Event, counts: list[int]) -> None:
    while not stop.is_set():
        messages = queue.receive(max_messages=10, visibility_timeout_s=60)
        if not messages:
            return
        if batch_ack:
            queue.ack_many(messages)
        else:
            for message in messages:
                queue.ack(message)
        counts.append(len(messages))


def receive_ack_rate(
    make_client: Callable[[], Any], messages: int, consumers: int, batch_ack: bool
) -> float:
    producer = fresh_queue(make_client)
    for _ in range(messages // 10):
        producer.send([BODY] * 10)
    handles = [SqsQueue(producer.queue_url, client=make_client()) for _ in range(consumers)]
    counts: list[int] = []
    stop = threading.Event()
    threads = [threading.Thread(target=consume, args=(h, batch_ack, stop, counts)) for h in handles]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed_s = time.perf_counter() - started
    # at least once: a message can come twice when consumers race (moto does this too)
    assert sum(counts) >= messages, (sum(counts), messages)
    return messages / elapsed_s


def median_of(runs: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--endpoint-url", default=None, help="default: a moto server here")
    args = parser.parse_args()
    with endpoint(args.endpoint_url) as url:
        make = client_factory(url)
        print(f"endpoint {url}, {args.messages} messages, median of {args.runs} runs")
        for batch in (1, 10):
            rate = median_of(args.runs, lambda b=batch: send_rate(make, args.messages, b))
            print(f"send, {batch:>2} per call:                   {rate:8.0f} messages/s")
        for batch_ack in (False, True):
            for consumers in (1, 2, 4):
                rate = median_of(
                    args.runs,
                    lambda c=consumers, b=batch_ack: receive_ack_rate(make, args.messages, c, b),
                )
                how = "ack_many" if batch_ack else "ack each"
                print(f"receive(10) + {how}, {consumers} consumer(s): {rate:8.0f} messages/s")


if __name__ == "__main__":
    main()
