"""Detector benchmark: session load time, per-photo counts, scores and median latency.

    python benchmarks/bench_detector.py [--photos ../shared/data/photos] [--threads 1] [--runs 7]

Photos are decoded as the bot decodes them (``decode_photo``: large JPEGs reduced to about
1024-2048 px), then timed through ``detect`` only. Synthetic negatives (sky, clouds,
landscape, bird-like and kite shapes) are generated here; none of them should yield a box.
Prints medians in milliseconds; the photos themselves are never copied into the repository.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from aircraftml.vision.detector import DEFAULT_MODEL_PATH, CocoSsdDetector, load_detector
from aircraftml.vision.image import decode_photo

DEFAULT_PHOTOS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "photos"


def sky(rng: np.random.Generator, width_px: int, height_px: int) -> Image.Image:
    top = np.array([70, 120, 200]) + rng.integers(-30, 30, 3)
    bottom = np.array([190, 215, 240]) + rng.integers(-20, 15, 3)
    t = np.linspace(0, 1, height_px)[:, None, None]
    pixels = top * (1 - t) + bottom * t + rng.normal(0, 3, (height_px, width_px, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def clouds(rng: np.random.Generator, image: Image.Image) -> Image.Image:
    layer = Image.new("L", image.size, 0)
    draw = ImageDraw.Draw(layer)
    for _ in range(25):
        x, y = int(rng.integers(0, image.width)), int(rng.integers(0, image.height * 2 // 3))
        r = int(rng.integers(40, 200))
        draw.ellipse((x - r, y - r // 2, x + r, y + r // 2), fill=int(rng.integers(120, 255)))
    layer = layer.filter(ImageFilter.GaussianBlur(30))
    return Image.composite(Image.new("RGB", image.size, (245, 245, 245)), image, layer)


def landscape(rng: np.random.Generator, image: Image.Image) -> Image.Image:
    draw = ImageDraw.Draw(image)
    w, h = image.size
    ridge = [(x, int(h * 0.55 + rng.integers(-80, 80))) for x in range(0, w + 100, 100)]
    draw.polygon([(0, h), *ridge, (w, h)], fill=(90, 100, 130))
    draw.rectangle((0, int(h * 0.8), w, h), fill=(60, 120, 50))
    for _ in range(40):
        x, y = int(rng.integers(0, w)), int(h * 0.8) + int(rng.integers(-10, 40))
        draw.ellipse((x - 15, y - 40, x + 15, y), fill=(30, 80, 30))
    return image


def birds(
    rng: np.random.Generator,
    image: Image.Image,
    count: int = 12,
    size_px: tuple[int, int] = (8, 40),
) -> Image.Image:
    draw = ImageDraw.Draw(image)
    for _ in range(count):
        x = int(rng.integers(50, image.width - 50))
        y = int(rng.integers(30, image.height // 2))
        s = int(rng.integers(*size_px))
        wing = [(x - s, y - s // 3), (x - s // 3, y - s // 6), (x, y)]
        wing += [(x + s // 3, y - s // 6), (x + s, y - s // 3)]
        draw.line(wing, fill=(30, 30, 30), width=max(2, s // 8))
    return image


def kites(rng: np.random.Generator, image: Image.Image, count: int = 3) -> Image.Image:
    draw = ImageDraw.Draw(image)
    for _ in range(count):
        x = int(rng.integers(100, image.width - 100))
        y = int(rng.integers(60, image.height // 2))
        s = int(rng.integers(30, 90))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        draw.polygon(
            [(x, y - s), (x + s * 2 // 3, y), (x, y + s), (x - s * 2 // 3, y)], fill=colour
        )
        tail = [(x + int(20 * np.sin(k)), y + s + 25 * k) for k in range(1, 8)]
        draw.line([(x, y + s), *tail], fill=(200, 30, 30), width=3)
        draw.line([(x, y), (x - 200, image.height)], fill=(220, 220, 220), width=1)
    return image


def negatives(seed: int = 0) -> dict[str, Image.Image]:
    """Synthetic photos without an aircraft (fixed seed: the same every run)."""
    rng = np.random.default_rng(seed)
    found: dict[str, Image.Image] = {}
    for w, h in [(1920, 1280), (1280, 720), (800, 600)]:
        found[f"sky-{w}"] = sky(rng, w, h)
        found[f"clouds-{w}"] = clouds(rng, sky(rng, w, h))
        found[f"landscape-{w}"] = landscape(rng, clouds(rng, sky(rng, w, h)))
        found[f"birds-{w}"] = birds(rng, sky(rng, w, h))
        found[f"big-birds-{w}"] = birds(rng, clouds(rng, sky(rng, w, h)), 4, (60, 160))
        found[f"kites-{w}"] = kites(rng, landscape(rng, sky(rng, w, h)))
    found["noise"] = Image.fromarray(rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8))
    return found


def median_ms(call: Callable[[], object], runs: int) -> float:
    call()  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    loads = []
    for _ in range(3):
        started = time.perf_counter()
        detector = load_detector(threads=args.threads)
        loads.append((time.perf_counter() - started) * 1000)
    assert isinstance(detector, CocoSsdDetector)
    tiled = CocoSsdDetector(tiles=True, session=detector._session)
    size_mb = DEFAULT_MODEL_PATH.stat().st_size / 1e6
    print(f"model {DEFAULT_MODEL_PATH.name} ({size_mb:.1f} MB), threads={args.threads}")
    print(f"session load: median {statistics.median(loads):.0f} ms (first {loads[0]:.0f} ms)")

    images: dict[str, Image.Image] = {}
    if args.photos.is_dir():
        for path in sorted(args.photos.glob("*.jpg")):
            images[path.name] = decode_photo(path.read_bytes()).image
            decode_ms = median_ms(lambda p=path: decode_photo(p.read_bytes()), 3)  # type: ignore[misc]
            print(f"decode {path.name}: {decode_ms:.0f} ms")
    else:
        print(f"no photos at {args.photos}: negatives only")
    images.update(negatives())

    header = f"{'image':26s} {'size':>10s} {'n':>2s} {'ms':>5s} | {'tiled n':>7s} {'ms':>5s}"
    print(header + "  scores (default)")
    for name, image in images.items():
        boxes = detector.detect(image)
        tiled_boxes = tiled.detect(image)
        ms = median_ms(lambda i=image: detector.detect(i), args.runs)  # type: ignore[misc]
        tiled_ms = median_ms(lambda i=image: tiled.detect(i), max(3, args.runs // 2))  # type: ignore[misc]
        size = f"{image.width}x{image.height}"
        scores = " ".join(f"{b.score:.2f}" for b in boxes)
        print(
            f"{name:26s} {size:>10s} {len(boxes):2d} {ms:5.0f} | {len(tiled_boxes):7d} "
            f"{tiled_ms:5.0f}  {scores}"
        )


if __name__ == "__main__":
    main()
