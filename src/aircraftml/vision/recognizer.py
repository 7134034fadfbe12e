"""One photo in, every aircraft out: decode -> detect boxes -> classify each crop.

This is the single path a photo takes through the vision code, for the CLI and the bot alike.
Boxes come back in pixels of the photo as the user sees it (EXIF orientation applied, full
resolution), ordered left to right.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aircraftml.malloc_tuning import keep_freed_memory
from aircraftml.vision.classifier import Classifier
from aircraftml.vision.crop import crop_for_classifier
from aircraftml.vision.detector import Detector, load_detector
from aircraftml.vision.image import DEFAULT_MAX_SIDE_PX, Photo, decode_photo
from aircraftml.vision.naming import Named, most_specific_sure_level
from aircraftml.vision.taxonomy import Taxonomy
from aircraftml.vision.types import Box, LevelGuess, TypeGuess

TOP_K_TYPES = 3


@dataclass(frozen=True, slots=True)
class FoundAircraft:
    """One aircraft: its box ``(x0, y0, x1, y1)`` in full-size photo pixels, the detector's
    score, the most likely types (best first), family and manufacturer, and whether it is
    one of the types the classifier knows at all. ``named`` is what the bot says it is."""

    box: tuple[int, int, int, int]
    score: float
    types: tuple[TypeGuess, ...]
    family: LevelGuess | None = None
    manufacturer: LevelGuess | None = None
    known: bool = True

    @property
    def named(self) -> Named:
        return most_specific_sure_level(self.types, self.family, self.manufacturer, self.known)

    def to_dict(self) -> dict[str, Any]:
        named = self.named
        return {
            "box": list(self.box),
            "score": round(self.score, 3),
            "types": [{"label": t.label, "confidence": round(t.confidence, 3)} for t in self.types],
            "family": self.family.to_dict() if self.family else None,
            "manufacturer": self.manufacturer.to_dict() if self.manufacturer else None,
            "known": self.known,
            "named": {
                "level": named.level,
                "label": named.label,
                "confidence": round(named.confidence, 3),
            },
        }


@dataclass(frozen=True, slots=True)
class Recognition:
    """What was seen in one photo. ``photo`` keeps the decoded image for drawing on."""

    photo: Photo = field(repr=False)
    aircraft: tuple[FoundAircraft, ...]
    timings_ms: dict[str, float]

    def to_dict(self, image_name: str) -> dict[str, Any]:
        return {
            "image": image_name,
            "width": self.photo.width,
            "height": self.photo.height,
            "aircraft": [a.to_dict() for a in self.aircraft],
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
        }


class Recognizer:
    """Holds the loaded detector and classifier; cheap to call many times."""

    def __init__(
        self,
        detector: Detector,
        classifier: Classifier,
        *,
        max_side_px: int = DEFAULT_MAX_SIDE_PX,
    ) -> None:
        self._detector = detector
        self._classifier = classifier
        self._max_side_px = max_side_px

    @classmethod
    def load(
        cls,
        *,
        detector_path: Path | None = None,
        classifier_dir: Path | None = None,
        threads: int = 1,
    ) -> Recognizer:
        """Load the shipped models, or the ones given (a YOLOv8-layout ONNX detector, a
        model directory written by ``aircraftml train``). The process keeps freed memory
        for the next photo (see ``malloc_tuning``): a process that recognises photos
        allocates and frees the same large blocks for every one."""
        keep_freed_memory()
        return cls(
            load_detector(detector_path, threads=threads),
            Classifier.load(classifier_dir, threads=threads),
        )

    @property
    def taxonomy(self) -> Taxonomy:
        """The classifier's type tree (families and makers of its labels)."""
        return self._classifier.taxonomy

    def recognize_bytes(self, data: bytes) -> Recognition:
        """Decode and recognise; a photo that cannot be read raises ``PhotoError``."""
        started = time.perf_counter()
        photo = decode_photo(data, max_side_px=self._max_side_px)
        decode_ms = (time.perf_counter() - started) * 1000
        return self.recognize(photo, decode_ms=decode_ms)

    def recognize(self, photo: Photo, *, decode_ms: float = 0.0) -> Recognition:
        started = time.perf_counter()
        boxes = sorted(self._detector.detect(photo.image), key=lambda b: (b.x0, b.y0))
        detected = time.perf_counter()
        meta = self._classifier.meta
        crops = [
            crop_for_classifier(photo.image, box, meta.input_size_px, margin=meta.crop_margin)
            for box in boxes
        ]
        assessments = self._classifier.assess(crops, top_k=TOP_K_TYPES)
        classified = time.perf_counter()
        aircraft = tuple(
            FoundAircraft(
                box=_full_size_box(box, photo),
                score=box.score,
                types=assessment.types,
                family=assessment.family,
                manufacturer=assessment.manufacturer,
                known=assessment.known,
            )
            for box, assessment in zip(boxes, assessments, strict=True)
        )
        timings_ms = {
            "decode": decode_ms,
            "detect": (detected - started) * 1000,
            "classify": (classified - detected) * 1000,
        }
        timings_ms["total"] = sum(timings_ms.values())
        return Recognition(photo=photo, aircraft=aircraft, timings_ms=timings_ms)


def _full_size_box(box: Box, photo: Photo) -> tuple[int, int, int, int]:
    """A box in decoded-image pixels -> integer pixels of the full-size photo, clipped."""
    full = box.scaled(1.0 / photo.scale)
    x0 = min(max(round(full.x0), 0), photo.width)
    y0 = min(max(round(full.y0), 0), photo.height)
    x1 = min(max(round(full.x1), 0), photo.width)
    y1 = min(max(round(full.y1), 0), photo.height)
    return (x0, y0, x1, y1)
