"""Read an aircraft's registration (its tail number) from the photo, only when it is sure.

For one aircraft box: cut the box (and a margin) out of the photo at the resolution the text
needs (re-decoding the photo larger when the detector's copy is too small), find the text
lines in it, keep the lines shaped like a registration (a short line: a few characters),
read them, and keep a reading only when it spells a registration in its country's format
(``registration_formats``) with a calibrated confidence of at least ``SHOW_CONFIDENCE`` (97%).
A wrong registration is worse than none: when two lines spell different registrations, none
is shown. When no line in the box is shaped like one, nothing is read at all (the reading is
most of the cost).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from aircraftml.errors import ModelError, PhotoError
from aircraftml.vision.image import Photo, decode_photo
from aircraftml.vision.ocr import Ocr, ReadText, TextLine, load_ocr
from aircraftml.vision.registration_formats import Match, match_registration

logger = logging.getLogger(__name__)

# The box's long side in the text detector's input: registrations are painted about 1/50 to
# 1/100 of an aircraft's length tall, so this keeps them 12-24 px tall, which the detector
# finds; a photo smaller than that is enlarged, up to MAX_UPSCALE.
DETECT_BOX_SIDE_PX = 1152
MAX_UPSCALE = 2.0
BOX_MARGIN = 0.04  # of the box's size, on each side
# An aircraft smaller than this (long side, photo pixels) carries no legible registration;
# in a photo of many, only the largest are read (each read costs about as much as the rest
# of the pipeline).
MIN_BOX_SIDE_PX = 200
MAX_AIRCRAFT_READ = 4
# A line worth reading: as tall as legible text, and shaped like 3-8 characters (the
# detector's boxes are padded, so six characters come out about three times as wide as tall).
MIN_LINE_HEIGHT_PX = 9.0
MIN_LINE_ASPECT, MAX_LINE_ASPECT = 1.5, 7.0
MAX_LINES_READ = 8
# Platt scaling of the weakest character's probability (logit) into the chance the whole
# registration is right, fitted on 300 rendered photos (benchmarks/bench_registration.py
# --fit, seed 2027: 193 readings, 191 right, the two wrong ones with their weakest character
# at 0.27 and 0.61). Shown from 0.97: a weakest character of about 0.67 or better. With so
# few wrong readings to fit on, the low end of the scale is loosely known; the threshold is
# set where none of them would have been shown. What a look-alike swap (O for 0) costs is
# a prior, not fitted: too few swapped readings came up to fit it.
SHOW_CONFIDENCE = 0.97
CALIBRATION_SLOPE = 2.56
CALIBRATION_INTERCEPT = 1.68
SUBSTITUTION_LOGIT_COST = 1.5
_PROB_EPS = 1e-6


@dataclass(frozen=True, slots=True)
class Registration:
    """A registration read on the aircraft: as written (``F-GUBC``), the country of its
    register, the calibrated chance that it is right, and where it is painted (full-size
    photo pixels)."""

    text: str
    country: str
    confidence: float
    box: tuple[int, int, int, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "country": self.country,
            "confidence": round(self.confidence, 3),
            "box": list(self.box),
        }


@dataclass(frozen=True, slots=True)
class Reading:
    """One line read as a registration, before the reader decides whether to show it:
    the weakest character's probability is what the confidence is calibrated from."""

    match: Match
    weakest_prob: float
    confidence: float
    line: TextLine


class RegistrationReader:
    """Reads registrations with the OCR models, loaded once."""

    def __init__(
        self,
        ocr: Ocr,
        *,
        show_confidence: float = SHOW_CONFIDENCE,
        detect_box_side_px: int = DETECT_BOX_SIDE_PX,
    ) -> None:
        self._ocr = ocr
        self._show_confidence = show_confidence
        self._detect_box_side_px = detect_box_side_px

    @classmethod
    def load(cls, *, threads: int = 1, **options: Any) -> RegistrationReader:
        """``OcrUnavailable`` when the OCR library is not installed; ``options`` are those
        of the constructor."""
        return cls(load_ocr(threads=threads), **options)

    def read(self, source: PhotoSource, box: tuple[int, int, int, int]) -> Registration | None:
        """The registration painted inside ``box`` (full-size photo pixels), or None."""
        region = source.region(box, self._detect_box_side_px)
        if region is None:
            return None
        return self._sure_registration(self._readings(region), region)

    def readings(self, source: PhotoSource, box: tuple[int, int, int, int]) -> list[Reading]:
        """Every line in ``box`` that spells a registration, sure or not (for calibrating)."""
        region = source.region(box, self._detect_box_side_px)
        return self._readings(region) if region is not None else []

    def _readings(self, region: _Region) -> list[Reading]:
        lines = [line for line in self._ocr.find_lines(region.bgr) if _worth_reading(line)]
        if not lines:
            return []
        lines = sorted(lines, key=lambda line: -line.height)[:MAX_LINES_READ]
        return [
            reading
            for line, text in zip(lines, self._ocr.read_lines(region.bgr, lines), strict=True)
            if (reading := _reading_of(text, line)) is not None
        ]

    def read_all(
        self, source: PhotoSource, boxes: Sequence[tuple[int, int, int, int]]
    ) -> list[Registration | None]:
        """One registration or None per box: the ``MAX_AIRCRAFT_READ`` largest boxes of at
        least ``MIN_BOX_SIDE_PX`` are read, the others get None."""
        sides = [max(x1 - x0, y1 - y0) for x0, y0, x1, y1 in boxes]
        largest = sorted(range(len(boxes)), key=lambda i: -sides[i])[:MAX_AIRCRAFT_READ]
        chosen = {i for i in largest if sides[i] >= MIN_BOX_SIDE_PX}
        return [
            self._read_or_none(source, box) if i in chosen else None for i, box in enumerate(boxes)
        ]

    def _read_or_none(
        self, source: PhotoSource, box: tuple[int, int, int, int]
    ) -> Registration | None:
        """A registration is extra: when the OCR fails on one box, the aircraft is still
        answered, without it."""
        try:
            return self.read(source, box)
        except ModelError as exc:
            logger.warning("registration not read in box %s: %s", box, exc)
            return None

    def _sure_registration(self, readings: list[Reading], region: _Region) -> Registration | None:
        if not readings or len({r.match.text for r in readings}) != 1:
            return None  # nothing, or two different registrations: show neither
        best = max(readings, key=lambda r: r.confidence)
        if best.confidence < self._show_confidence:
            return None
        return Registration(
            text=best.match.text,
            country=best.match.country,
            confidence=best.confidence,
            box=region.to_photo_box(best.line.corners),
        )


def calibrated_confidence(weakest_prob: float, substitutions: int) -> float:
    """The chance the reading is right, from its weakest character (Platt scaling)."""
    z = (
        CALIBRATION_INTERCEPT
        + CALIBRATION_SLOPE * prob_logit(weakest_prob)
        - SUBSTITUTION_LOGIT_COST * substitutions
    )
    return 1 / (1 + math.exp(-z))


def prob_logit(prob: float) -> float:
    clipped = min(max(prob, _PROB_EPS), 1 - _PROB_EPS)
    return math.log(clipped / (1 - clipped))


def _worth_reading(line: TextLine) -> bool:
    height = line.height
    if height < MIN_LINE_HEIGHT_PX:
        return False
    return MIN_LINE_ASPECT <= line.width / height <= MAX_LINE_ASPECT


def _reading_of(read: ReadText, line: TextLine) -> Reading | None:
    """The best registration among the line's words (and the line without its spaces)."""
    best: Reading | None = None
    for text, probs in _candidates(read):
        match = match_registration(text)
        if match is None:
            continue
        weakest = min(probs, default=0.0)
        confidence = calibrated_confidence(weakest, match.substitutions)
        if best is None or confidence > best.confidence:
            best = Reading(match, weakest, confidence, line)
    return best


def _candidates(read: ReadText) -> list[tuple[str, tuple[float, ...]]]:
    words: list[tuple[str, tuple[float, ...]]] = []
    current: list[tuple[str, float]] = []
    for ch, prob in zip(read.text, read.char_probs, strict=True):
        if ch.isspace():
            if current:
                words.append(_joined(current))
            current = []
        else:
            current.append((ch, prob))
    if current:
        words.append(_joined(current))
    if len(words) > 1:
        everything = [(ch, p) for ch, p in zip(read.text, read.char_probs, strict=True)]
        words.append(_joined([(ch, p) for ch, p in everything if not ch.isspace()]))
    return words


def _joined(chars: list[tuple[str, float]]) -> tuple[str, tuple[float, ...]]:
    return "".join(ch for ch, _ in chars), tuple(p for _, p in chars)


@dataclass(frozen=True, slots=True)
class _Region:
    """A box cut out of the photo and resized for the text detector: ``bgr`` and how its
    pixels map back to full-size photo pixels (``origin + pixel / scale``)."""

    bgr: np.ndarray
    origin: tuple[float, float]
    scale: float  # region pixels per full-size photo pixel
    photo_size: tuple[int, int]

    def to_photo_box(self, corners: np.ndarray) -> tuple[int, int, int, int]:
        xs = corners[:, 0] / self.scale + self.origin[0]
        ys = corners[:, 1] / self.scale + self.origin[1]
        width, height = self.photo_size
        return (
            max(0, math.floor(float(xs.min()))),
            max(0, math.floor(float(ys.min()))),
            min(width, math.ceil(float(xs.max()))),
            min(height, math.ceil(float(ys.max()))),
        )


class PhotoSource:
    """One photo as the reader needs it: the detector's decoded copy, and the photo's bytes
    to decode again, larger, when the text needs more pixels (done at most once per photo)."""

    def __init__(self, photo: Photo, data: bytes | None = None) -> None:
        self._photo = photo
        self._data = data
        self._larger: Photo | None = None

    def region(self, box: tuple[int, int, int, int], long_side_px: int) -> _Region | None:
        """The box and its margin, resized so its long side is ``long_side_px``."""
        x0, y0, x1, y1 = _with_margin(box, self._photo.width, self._photo.height)
        long_side = max(x1 - x0, y1 - y0)
        if long_side < 8:
            return None
        wanted_scale = min(long_side_px / long_side, MAX_UPSCALE)
        photo = self._photo_at(wanted_scale)
        s = photo.scale
        crop = photo.image.crop((round(x0 * s), round(y0 * s), round(x1 * s), round(y1 * s)))
        size = (max(1, round((x1 - x0) * wanted_scale)), max(1, round((y1 - y0) * wanted_scale)))
        if crop.size != size:
            crop = crop.resize(size, Image.Resampling.BILINEAR)
        bgr = np.ascontiguousarray(np.asarray(crop)[:, :, ::-1])
        return _Region(bgr, (x0, y0), wanted_scale, (self._photo.width, self._photo.height))

    def _photo_at(self, wanted_scale: float) -> Photo:
        """The decoded copy with the most pixels at hand, decoding the bytes again (larger)
        when the detector's copy is below the scale wanted and the photo has more."""
        best = self._larger or self._photo
        if best.scale >= min(wanted_scale, 1.0) or self._data is None:
            return best
        long_side = max(self._photo.width, self._photo.height)
        try:
            self._larger = decode_photo(self._data, max_side_px=math.ceil(long_side * wanted_scale))
        except PhotoError as exc:  # larger than we decode (MAX_DECODED_PIXELS): do without
            logger.info("photo not decoded larger for its registration: %s", exc)
            self._data = None
            return best
        return self._larger


def _with_margin(box: tuple[int, int, int, int], width: int, height: int) -> tuple[int, ...]:
    x0, y0, x1, y1 = box
    mx, my = (x1 - x0) * BOX_MARGIN, (y1 - y0) * BOX_MARGIN
    return (
        max(0, round(x0 - mx)),
        max(0, round(y0 - my)),
        min(width, round(x1 + mx)),
        min(height, round(y1 + my)),
    )
