"""The try-a-photo page: what ``POST /api/recognize`` adds to recognising one photo, and
what the page's first load weighs.

``aircraftml web`` runs in its own process; each photo is posted over loopback HTTP, one at
a time. The server's JSON says how long the recognition itself took (decode, detect,
classify: ``timings_ms.total``); the rest of the round trip is what the API adds (upload,
form parsing, the thread hop, the JSON, the answer). Target: at most 10% of recognition.
The first load: the page and every asset it names, in bytes, and any other host it names
(target: under 100 KB, none).

Usage: python benchmarks/bench_web.py [RUNS] [PHOTO ...]
  (default: 30 runs of each of ../shared/data/photos' single-aircraft photos when present,
  else of a drawn airliner)
"""

from __future__ import annotations

import argparse
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from aircraftml.demo import draw_airliner

SHARED_PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "photos"
WEB_COMMAND = (sys.executable, "-m", "aircraftml", "web")
SINGLE_AIRCRAFT = ("boeing-737-800.jpg", "boeing-747-400.jpg", "embraer-erj-145.jpg")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="?", type=int, default=30)
    parser.add_argument("photos", nargs="*", type=Path)
    args = parser.parse_args()
    photos = _photos(args.photos)
    port = _free_port()
    server = subprocess.Popen(
        [*WEB_COMMAND, "--port", str(port), "--rate-per-minute", "100000"],
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_up(base)
        with httpx.Client(base_url=base, timeout=60) as client:
            print(_first_load(client))
            for name, data in photos:
                print(_api_overhead(client, name, data, args.runs))
    finally:
        server.terminate()
        server.wait(20)


def _api_overhead(client: httpx.Client, name: str, data: bytes, runs: int) -> str:
    round_trips_ms, recognitions_ms = [], []
    for run in range(runs + 2):  # two to warm up
        started = time.perf_counter()
        response = client.post("/api/recognize", files={"photo": (name, data, "image/jpeg")})
        elapsed_ms = (time.perf_counter() - started) * 1000
        response.raise_for_status()
        if run >= 2:
            round_trips_ms.append(elapsed_ms)
            recognitions_ms.append(response.json()["timings_ms"]["total"])
    added = [t - r for t, r in zip(round_trips_ms, recognitions_ms, strict=True)]
    recognition = statistics.median(recognitions_ms)
    extra = statistics.median(added)
    share = extra / recognition
    verdict = "met" if share <= 0.10 else "NOT met"
    return (
        f"{name} ({len(data):,} bytes): recognition {recognition:.1f} ms, "
        f"POST /api/recognize adds {extra:.1f} ms = {share:.1%} (target <= 10%: {verdict}); "
        f"round trip p50 {statistics.median(round_trips_ms):.1f} ms over {runs} runs"
    )


def _first_load(client: httpx.Client) -> str:
    page = client.get("/")
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    other_hosts = [a for a in assets if re.match(r"^([a-z]+:)?//", a)]
    total = len(page.content) + sum(len(client.get(a).content) for a in assets)
    verdict = "met" if total < 100_000 and not other_hosts else "NOT met"
    return (
        f"first load: {total:,} bytes in {1 + len(assets)} requests, "
        f"other hosts named: {other_hosts or 'none'} (target < 100 KB, none: {verdict})"
    )


def _photos(paths: list[Path]) -> list[tuple[str, bytes]]:
    if paths:
        return [(p.name, p.read_bytes()) for p in paths]
    shared = [SHARED_PHOTOS / name for name in SINGLE_AIRCRAFT if (SHARED_PHOTOS / name).exists()]
    if shared:
        return [(p.name, p.read_bytes()) for p in shared]
    return [("drawn-airliner.png", draw_airliner())]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_up(base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz").status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("aircraftml web did not start")


if __name__ == "__main__":
    main()
