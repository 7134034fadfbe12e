"""The whole photo pipeline (decode -> detect -> crop -> classify) on full-size photos.

Prints, for the photos in ../shared/data/photos (or a folder given as the first argument):
- per photo: median milliseconds on one thread, decode included, with the stage split;
- throughput with one process and with two processes (one thread each), and their ratio;
- the cold start of `aircraftml classify PHOTO` (a fresh process, wall time), median of 5;
- the peak memory (max RSS) of that process.

Medians, since these machines are noisy. Usage: python benchmarks/bench_pipeline.py [DIR]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPEATS = 15
TARGET_MS = 60.0  # per single-aircraft photo, one thread, decode included
THROUGHPUT_ROUNDS = 6
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "photos"


def _photos(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))


def per_photo_latency(paths: list[Path]) -> None:
    from aircraftml.vision.recognizer import Recognizer

    recognizer = Recognizer.load(threads=1)
    print(f"{'photo':<28}{'aircraft':>9}{'total ms':>10}{'decode':>8}{'detect':>8}{'classify':>9}")
    single_aircraft_ms = []
    for path in paths:
        data = path.read_bytes()
        recognizer.recognize_bytes(data)  # warm-up
        runs = [recognizer.recognize_bytes(data) for _ in range(REPEATS)]
        med = {k: statistics.median(r.timings_ms[k] for r in runs) for k in runs[0].timings_ms}
        count = len(runs[0].aircraft)
        if count == 1:
            single_aircraft_ms.append(med["total"])
        print(
            f"{path.name:<28}{count:>9}{med['total']:>10.1f}{med['decode']:>8.1f}"
            f"{med['detect']:>8.1f}{med['classify']:>9.1f}"
        )
    if single_aircraft_ms:
        within = sum(ms <= TARGET_MS for ms in single_aircraft_ms)
        print(
            f"median over single-aircraft photos: {statistics.median(single_aircraft_ms):.1f} ms;"
            f" {within} of {len(single_aircraft_ms)} within {TARGET_MS:.0f} ms"
        )


def _work(paths: list[Path], rounds: int, ready: multiprocessing.Barrier) -> None:  # type: ignore[type-arg]
    from aircraftml.vision.recognizer import Recognizer

    recognizer = Recognizer.load(threads=1)
    data = [p.read_bytes() for p in paths]
    recognizer.recognize_bytes(data[0])
    ready.wait()
    for _ in range(rounds):
        for photo in data:
            recognizer.recognize_bytes(photo)


def throughput(paths: list[Path], processes: int) -> float:
    """Photos per second with ``processes`` single-threaded processes working at once."""
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(processes + 1)
    workers = [
        context.Process(target=_work, args=(paths, THROUGHPUT_ROUNDS, ready))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    ready.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    return processes * THROUGHPUT_ROUNDS * len(paths) / (time.perf_counter() - started)


def cold_start(photo: Path) -> tuple[float, float]:
    """Median wall seconds of `aircraftml classify PHOTO` in a fresh process, and its max RSS."""
    walls = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "aircraftml", "classify", str(photo)],
            check=True,
            capture_output=True,
        )
        walls.append(time.perf_counter() - started)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return statistics.median(walls), peak_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_DIR, help="photos")
    folder = parser.parse_args().folder
    if not folder.is_dir():
        sys.exit(f"no photo folder at {folder}: pass one as the first argument")
    paths = _photos(folder)
    # First, while `aircraftml classify` is the only child process whose peak memory counts.
    wall_s, peak_mb = cold_start(paths[0])
    print(
        f"cold start `aircraftml classify {paths[0].name}`: {wall_s:.2f} s median; "
        f"peak memory {peak_mb:.0f} MB"
    )
    per_photo_latency(paths)
    one = throughput(paths, 1)
    two = throughput(paths, 2)
    print(
        f"throughput: 1 process {one:.1f} photos/s, 2 processes {two:.1f} photos/s, "
        f"ratio {two / one:.2f}x"
    )


if __name__ == "__main__":
    main()
