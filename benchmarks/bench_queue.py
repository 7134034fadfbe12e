"""How fast the SQLite queue is, with synchronous=FULL (the default) and NORMAL.

    python benchmarks/bench_queue.py [--runs 3] [--dir /path/on/the/target/disk]

Prints, for each setting, the median of ``--runs`` runs of:
- send throughput: single sends, batches of 10, batches of 100 (messages/s);
- receive+ack throughput: 1 and 2 consumer processes, receive(10) then one ack each;
- send throughput of single sends from 16 threads sharing one handle (group commit);
- single-send latency p50/p99, back to back from one thread;
- single-send latency p50/p99 with sends started at 500/s on a thread pool while 2
  consumer processes drain the queue (the webhook's target: p99 <= 20 ms at 500/s).
Run it on the disk the queue will live on: fsync cost is the disk's, not SQLite's.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from aircraftml._sqlite import Synchronous
from aircraftml.queue.sqlite import SqliteQueue

SPAWN = mp.get_context("spawn")
BODY = '{"platform":"x","post_id":"1790000000000000000","author_id":"12345","text":"@bot"}'


def send_rate(path: Path, sync: Synchronous, batch: int, messages: int) -> float:
    with SqliteQueue(path, synchronous=sync) as queue:
        started = time.perf_counter()
        for _ in range(messages // batch):
            queue.send([BODY] * batch)
        return messages / (time.perf_counter() - started)


def send_latencies_ms(path: Path, sync: Synchronous, sends: int) -> list[float]:
    """Latency of each single send, back to back from one thread."""
    latencies_ms = []
    with SqliteQueue(path, synchronous=sync) as queue:
        for _ in range(sends):
            started = time.perf_counter()
            queue.send([BODY])
            latencies_ms.append((time.perf_counter() - started) * 1000)
    return latencies_ms


def threaded_send_rate(path: Path, sync: Synchronous, threads: int, messages: int) -> float:
    """Single sends from ``threads`` threads sharing one handle (a webhook's worker pool)."""
    with SqliteQueue(path, synchronous=sync) as queue, ThreadPoolExecutor(threads) as pool:
        started = time.perf_counter()
        list(pool.map(lambda _: queue.send([BODY]), range(messages)))
        return messages / (time.perf_counter() - started)


def paced_send_latencies_ms(
    path: Path, sync: Synchronous, rate_hz: float, seconds: float
) -> list[float]:
    """Single sends started at ``rate_hz`` by a pool of threads, as deliveries arrive.

    Each latency runs from the moment the delivery was due, so time spent waiting for a
    free thread counts.
    """
    with SqliteQueue(path, synchronous=sync) as queue, ThreadPoolExecutor(64) as pool:

        def deliver(due_at: float) -> float:
            queue.send([BODY])
            return (time.perf_counter() - due_at) * 1000

        futures = []
        first_at = time.perf_counter()
        for n in range(int(rate_hz * seconds)):
            due_at = first_at + n / rate_hz
            time.sleep(max(0.0, due_at - time.perf_counter()))
            futures.append(pool.submit(deliver, due_at))
        return [future.result() for future in futures]


def _drain(path: Path, sync: Synchronous, start: Event, stop: Event, done: Any) -> None:
    acked = 0
    with SqliteQueue(path, synchronous=sync) as queue:
        start.wait()
        while not stop.is_set():
            for message in queue.receive(max_messages=10, wait_s=0.05):
                queue.ack(message)
                acked += 1
    done.put(acked)


def _consumers(path: Path, sync: Synchronous, count: int) -> tuple[list[Any], Event, Event, Any]:
    start, stop, done = SPAWN.Event(), SPAWN.Event(), SPAWN.Queue()
    procs = [
        SPAWN.Process(target=_drain, args=(path, sync, start, stop, done)) for _ in range(count)
    ]
    for proc in procs:
        proc.start()
    time.sleep(1.5)  # let them import and open the file before the clock starts
    return procs, start, stop, done


def receive_ack_rate(path: Path, sync: Synchronous, consumers: int, messages: int) -> float:
    with SqliteQueue(path, synchronous=sync) as queue:
        queue.send([BODY] * messages)
        procs, start, stop, done = _consumers(path, sync, consumers)
        started = time.perf_counter()
        start.set()
        while queue.stats().ready:
            time.sleep(0.01)
        elapsed_s = time.perf_counter() - started
    stop.set()
    acked = sum(int(done.get()) for _ in procs)
    for proc in procs:
        proc.join()
    return acked / elapsed_s


def paced_latencies_ms(
    path: Path, sync: Synchronous, rate_hz: float, seconds: float
) -> list[float]:
    procs, start, stop, done = _consumers(path, sync, 2)
    start.set()
    latencies_ms = paced_send_latencies_ms(path, sync, rate_hz, seconds)
    stop.set()
    for _ in procs:
        done.get()
    for proc in procs:
        proc.join()
    return latencies_ms


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))])


def median_of(runs: int, workdir: Path, measure: Callable[[Path], float]) -> float:
    results = []
    for run in range(runs):
        with tempfile.TemporaryDirectory(dir=workdir) as scratch:
            results.append(measure(Path(scratch) / f"bench-{run}.sqlite3"))
    return statistics.median(results)


def report(sync: Synchronous, runs: int, workdir: Path) -> None:
    print(f"synchronous={sync} (median of {runs} runs, files under {workdir})")
    for batch, messages in ((1, 500), (10, 3000), (100, 20000)):
        rate = median_of(
            runs, workdir, partial(send_rate, sync=sync, batch=batch, messages=messages)
        )
        print(f"  send, batches of {batch:>3}: {rate:>9,.0f} messages/s")
    measure = partial(threaded_send_rate, sync=sync, threads=16, messages=3000)
    rate = median_of(runs, workdir, measure)
    print(f"  send, singles from 16 threads (group commit): {rate:>9,.0f} messages/s")
    for consumers in (1, 2):
        measure = partial(receive_ack_rate, sync=sync, consumers=consumers, messages=3000)
        rate = median_of(runs, workdir, measure)
        print(f"  receive(10)+ack, {consumers} process(es): {rate:>9,.0f} messages/s")
    for label, rate_hz in (
        ("back to back, 1 thread", 0.0),
        ("500/s from threads + 2 consumers", 500.0),
    ):
        p50s, p99s = [], []
        for _ in range(runs):
            with tempfile.TemporaryDirectory(dir=workdir) as scratch:
                path = Path(scratch) / "bench.sqlite3"
                if rate_hz:
                    latencies = paced_latencies_ms(path, sync, rate_hz, 2.0)
                else:
                    latencies = send_latencies_ms(path, sync, 500)
            p50s.append(percentile(latencies, 0.50))
            p99s.append(percentile(latencies, 0.99))
        p50, p99 = statistics.median(p50s), statistics.median(p99s)
        print(f"  single send latency, {label}: p50 {p50:.2f} ms, p99 {p99:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    settings: tuple[Synchronous, ...] = ("FULL", "NORMAL")
    for sync in settings:
        report(sync, args.runs, args.dir)


if __name__ == "__main__":
    main()
