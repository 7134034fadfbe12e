"""Type classifier benchmark: model load time, median latency of one crop and of four.

    python benchmarks/bench_classifier.py [--model MODEL_DIR] [--threads 1] [--runs 30]

Crops are taken from the aircraft-types-v2 validation images when ../shared/data is there
(otherwise synthetic gradients), at odd sizes so the resize is timed too. Accuracy figures
come from ``aircraftml evaluate DATA_DIR --model MODEL_DIR``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from aircraftml.vision.classifier import Classifier

SHARED_VAL = Path(__file__).resolve().parent.parent.parent / "shared/data/aircraft-types-v2/val"


def sample_crops(count: int) -> list[Image.Image]:
    paths = sorted(SHARED_VAL.glob("*/*.jpg"))[:: max(1, 1 + 1395 // count)][:count]
    if len(paths) == count:
        return [Image.open(p).convert("RGB").resize((300, 180)) for p in paths]
    rng = np.random.default_rng(0)
    return [
        Image.fromarray(rng.integers(0, 255, (180, 300, 3), dtype=np.uint8)) for _ in range(count)
    ]


def median_ms(classifier: Classifier, crops: Sequence[Image.Image], runs: int) -> float:
    classifier.classify(crops)  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        classifier.classify(crops)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    started = time.perf_counter()
    classifier = Classifier.load(args.model, threads=args.threads)
    load_ms = (time.perf_counter() - started) * 1000
    model_mb = (classifier.model_dir / "model.onnx").stat().st_size / 1e6
    crops = sample_crops(4)
    one = median_ms(classifier, crops[:1], args.runs)
    four = median_ms(classifier, crops, args.runs)
    print(f"model {classifier.model_dir} ({model_mb:.1f} MB, {len(classifier.labels)} types)")
    print(f"threads={args.threads}  load {load_ms:.0f} ms")
    print(f"one crop: median {one:.1f} ms")
    print(f"batch of 4: median {four:.1f} ms ({four / 4:.1f} ms per crop)")


if __name__ == "__main__":
    main()
