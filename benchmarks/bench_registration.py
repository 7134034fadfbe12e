"""The registration reader on rendered photos (``vision/registration_samples.py``) and, where
``../shared/data/photos`` exists, on the real ones: precision of the registrations it shows
(goal >= 99%), recall on the legible ones (goal >= 80%), and the time reading adds per photo
(goal <= 30 ms median, one thread).

``--fit`` also fits the confidence calibration (Platt scaling of the weakest character's
probability, and the cost of a look-alike swap) on the rendered photos of a different seed
than the one measured, and prints the constants for ``vision/registration.py``.

Usage: python benchmarks/bench_registration.py [--photos N] [--seed S] [--fit]
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aircraftml.vision.image import decode_photo
from aircraftml.vision.registration import (
    DETECT_BOX_SIDE_PX,
    SHOW_CONFIDENCE,
    PhotoSource,
    Reading,
    RegistrationReader,
    prob_logit,
)
from aircraftml.vision.registration_samples import Sample, samples

SHARED_PHOTOS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "photos"
# The registrations legible in the shared photos (boxes as the shipped detector finds them).
REAL_PHOTOS = {
    "embraer-erj-145.jpg": ("F-GUBC", (14, 4, 746, 465)),
    "boeing-737-800.jpg": ("N3747D", (42, 526, 2609, 1149)),
    "fokker-100.jpg": ("4O-AOM", (158, 445, 1831, 910)),
}


@dataclass(frozen=True, slots=True)
class Outcome:
    truth: str | None
    legible: bool
    readings: list[Reading]
    elapsed_ms: float
    cpu_ms: float

    @property
    def best(self) -> Reading | None:
        return max(self.readings, key=lambda r: r.confidence, default=None)

    def shown(self, threshold: float) -> str | None:
        texts = {r.match.text for r in self.readings}
        best = self.best
        if best is None or len(texts) != 1 or best.confidence < threshold:
            return None
        return best.match.text


def run(reader: RegistrationReader, batch: list[Sample]) -> list[Outcome]:
    outcomes = []
    for sample in batch:
        photo = decode_photo(sample.jpeg)  # the pipeline's decode, not the reader's cost
        started, started_cpu = time.perf_counter(), time.process_time()
        readings = reader.readings(PhotoSource(photo, sample.jpeg), sample.box)
        elapsed_ms = (time.perf_counter() - started) * 1000
        cpu_ms = (time.process_time() - started_cpu) * 1000
        outcomes.append(Outcome(sample.truth, sample.legible, readings, elapsed_ms, cpu_ms))
    return outcomes


def report(outcomes: list[Outcome], threshold: float) -> None:
    shown = [(o, o.shown(threshold)) for o in outcomes]
    shown = [(o, text) for o, text in shown if text is not None]
    right = sum(1 for o, text in shown if text == o.truth)
    legible = [o for o in outcomes if o.legible]
    found = sum(1 for o in legible if o.shown(threshold) == o.truth)
    times = [o.elapsed_ms for o in outcomes]
    cpu = [o.cpu_ms for o in outcomes]
    no_text = [o.elapsed_ms for o in outcomes if o.truth is None]
    print(
        f"photos: {len(outcomes)} ({len(legible)} with a legible registration, "
        f"{sum(o.truth is None for o in outcomes)} with none)"
    )
    print(
        f"shown at confidence >= {threshold:.2f}: {len(shown)}, right {right}: "
        f"precision {right / max(len(shown), 1):.1%} (goal >= 99%)"
    )
    print(
        f"recall on legible: {found}/{len(legible)} = {found / max(len(legible), 1):.1%} "
        "(goal >= 80%)"
    )
    wrong = [(o.truth, text) for o, text in shown if text != o.truth]
    if wrong:
        print("wrong ones shown (truth, shown):", wrong)
    print(
        f"time added per photo: median {statistics.median(times):.0f} ms, "
        f"p90 {np.percentile(times, 90):.0f} ms, max {max(times):.0f} ms (goal: median <= 30); "
        f"CPU time median {statistics.median(cpu):.0f} ms (one thread: the wall time on a "
        "quiet machine)"
    )
    if no_text:
        print(f"  on photos without a registration: median {statistics.median(no_text):.0f} ms")
    _calibration_table(outcomes)


def _calibration_table(outcomes: list[Outcome]) -> None:
    """Shown-or-not aside: of the best readings in each confidence band, how many are right."""
    bands = ((0.0, 0.5), (0.5, 0.8), (0.8, 0.9), (0.9, 0.97), (0.97, 1.01))
    best = [(o.best, o.truth) for o in outcomes if o.best is not None]
    print("calibration (best reading per photo): band, readings, right, mean confidence")
    for low, high in bands:
        inside = [(r, t) for r, t in best if low <= r.confidence < high]
        if inside:
            hits = sum(r.match.text == t for r, t in inside)
            mean = statistics.mean(r.confidence for r, _ in inside)
            print(
                f"  [{low:.2f}, {min(high, 1):.2f}): {len(inside):4d} {hits:4d} "
                f"({hits / len(inside):.0%})  mean {mean:.2f}"
            )


def fit(outcomes: list[Outcome]) -> None:
    """Logistic regression of "the best reading is right" on logit(weakest) and swaps."""
    rows = [(o.best, o.truth) for o in outcomes if o.best is not None]
    x = np.array([[1.0, prob_logit(r.weakest_prob), r.match.substitutions] for r, _ in rows])
    y = np.array([float(r.match.text == t) for r, t in rows])
    w = np.zeros(3)
    for _ in range(200):  # Newton's method with a little ridge
        p = 1 / (1 + np.exp(-x @ w))
        gradient = x.T @ (p - y) + 1e-3 * w
        hessian = (x * (p * (1 - p))[:, None]).T @ x + 1e-3 * np.eye(3)
        w -= np.linalg.solve(hessian, gradient)
    print(f"fitted on {len(rows)} readings ({int(y.sum())} right):")
    print(
        f"CALIBRATION_INTERCEPT = {w[0]:.2f}\nCALIBRATION_SLOPE = {w[1]:.2f}\n"
        f"SUBSTITUTION_LOGIT_COST = {-w[2]:.2f}"
    )


def real_photos(reader: RegistrationReader) -> None:
    if not SHARED_PHOTOS.is_dir():
        print("(no ../shared/data/photos: real photos skipped)")
        return
    for name, (truth, box) in REAL_PHOTOS.items():
        data = (SHARED_PHOTOS / name).read_bytes()
        started = time.perf_counter()
        registration = reader.read(PhotoSource(decode_photo(data), data), box)
        elapsed_ms = (time.perf_counter() - started) * 1000
        said = f"{registration.text} {registration.confidence:.2f}" if registration else "none"
        print(f"  {name}: painted {truth}, read {said} ({elapsed_ms:.0f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--fit", action="store_true", help="fit the calibration on seed+1")
    parser.add_argument(
        "--detect-side",
        type=int,
        default=DETECT_BOX_SIDE_PX,
        help="the box's long side for the text detector (px)",
    )
    args = parser.parse_args()
    reader = RegistrationReader.load(threads=1, detect_box_side_px=args.detect_side)
    reader.read(PhotoSource(decode_photo(next(samples(1, seed=1)).jpeg)), (0, 0, 100, 100))
    if args.fit:
        fit(run(reader, list(samples(args.photos, seed=args.seed + 1))))
    report(run(reader, list(samples(args.photos, seed=args.seed))), SHOW_CONFIDENCE)
    print("real photos:")
    real_photos(reader)


if __name__ == "__main__":
    main()
