"""One photo in, every aircraft out: decode -> detect boxes -> classify each crop -> read
each aircraft's registration (when the OCR extra is installed) and look it up in the
registry (when one is given), whose exact type then overrides the classifier's guess.

This is the single path a photo takes through the vision code, for the CLI and the bot alike.
Boxes come back in pixels of the photo as the user sees it (EXIF orientation applied, full
resolution), ordered left to right.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aircraftml.malloc_tuning import keep_freed_memory
from aircraftml.vision.classifier import Classifier
from aircraftml.vision.crop import crop_for_classifier
from aircraftml.vision.detector import Detector, load_detector
from aircraftml.vision.image import DEFAULT_MAX_SIDE_PX, Photo, decode_photo
from aircraftml.vision.naming import SURE_CONFIDENCE, Named, name_of
from aircraftml.vision.ocr import OcrUnavailable
from aircraftml.vision.registration import PhotoSource, Registration, RegistrationReader
from aircraftml.vision.registry import Registry, load_registry
from aircraftml.vision.taxonomy import Taxonomy
from aircraftml.vision.types import Box, LevelGuess, TypeGuess

logger = logging.getLogger(__name__)

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
    registration: Registration | None = None
    registered_type: str | None = None  # the registry's exact type for the registration
    sure_confidence: float = SURE_CONFIDENCE  # the model's bar for a claim ("probably")

    @property
    def named(self) -> Named:
        return name_of(self)

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
            "registration": self._registration_dict(),
            "type_source": "registry" if self.registered_type else "classifier",
        }

    def _registration_dict(self) -> dict[str, Any] | None:
        if self.registration is None:
            return None
        return {**self.registration.to_dict(), "registered_type": self.registered_type}


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
    """Holds the loaded detector, classifier and registration reader; cheap to call many
    times."""

    def __init__(
        self,
        detector: Detector,
        classifier: Classifier,
        *,
        max_side_px: int = DEFAULT_MAX_SIDE_PX,
        reader: RegistrationReader | None = None,
        registry: Registry | None = None,
    ) -> None:
        self._detector = detector
        self._classifier = classifier
        self._max_side_px = max_side_px
        self._reader = reader
        self._registry = registry

    @classmethod
    def load(
        cls,
        *,
        detector_path: Path | None = None,
        classifier_dir: Path | None = None,
        threads: int = 1,
        read_registrations: bool = True,
        registry_path: Path | None = None,
    ) -> Recognizer:
        """Load the shipped models, or the ones given (a YOLOv8-layout ONNX detector, a
        model directory written by ``aircraftml train``), the registration reader when the
        OCR extra is installed, and the registry at ``registry_path``. The process keeps
        freed memory for the next photo (see ``malloc_tuning``): a process that recognises
        photos allocates and frees the same large blocks for every one."""
        keep_freed_memory()
        return cls(
            load_detector(detector_path, threads=threads),
            Classifier.load(classifier_dir, threads=threads),
            reader=_load_reader(threads) if read_registrations else None,
            registry=load_registry(registry_path) if registry_path else None,
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
        return self.recognize(photo, decode_ms=decode_ms, data=data)

    def recognize(
        self, photo: Photo, *, decode_ms: float = 0.0, data: bytes | None = None
    ) -> Recognition:
        """``data``, the photo's bytes, lets the registration be read from a larger decode
        than the detector's copy."""
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
        full_boxes = [_full_size_box(box, photo) for box in boxes]
        registrations = self._read_registrations(photo, data, full_boxes)
        read = time.perf_counter()
        aircraft = tuple(
            FoundAircraft(
                box=full_box,
                score=box.score,
                types=assessment.types,
                family=assessment.family,
                manufacturer=assessment.manufacturer,
                known=assessment.known,
                sure_confidence=assessment.sure_confidence,
                registration=registration,
                registered_type=self._registered_type(registration),
            )
            for box, full_box, assessment, registration in zip(
                boxes, full_boxes, assessments, registrations, strict=True
            )
        )
        timings_ms = {
            "decode": decode_ms,
            "detect": (detected - started) * 1000,
            "classify": (classified - detected) * 1000,
            "registration": (read - classified) * 1000,
        }
        timings_ms["total"] = sum(timings_ms.values())
        return Recognition(photo=photo, aircraft=aircraft, timings_ms=timings_ms)

    def _read_registrations(
        self, photo: Photo, data: bytes | None, boxes: list[tuple[int, int, int, int]]
    ) -> list[Registration | None]:
        if self._reader is None:
            return [None] * len(boxes)
        return self._reader.read_all(PhotoSource(photo, data), boxes)

    def _registered_type(self, registration: Registration | None) -> str | None:
        if registration is None or self._registry is None:
            return None
        return self._registry.type_of(registration.text)


def _load_reader(threads: int) -> RegistrationReader | None:
    """The registration reader, or None (with one log line) without the OCR extra."""
    try:
        return RegistrationReader.load(threads=threads)
    except OcrUnavailable as exc:
        logger.info("registrations will not be read: %s", exc)
        return None


def _full_size_box(box: Box, photo: Photo) -> tuple[int, int, int, int]:
    """A box in decoded-image pixels -> integer pixels of the full-size photo, clipped."""
    full = box.scaled(1.0 / photo.scale)
    x0 = min(max(round(full.x0), 0), photo.width)
    y0 = min(max(round(full.y0), 0), photo.height)
    x1 = min(max(round(full.x1), 0), photo.width)
    y1 = min(max(round(full.y1), 0), photo.height)
    return (x0, y0, x1, y1)
