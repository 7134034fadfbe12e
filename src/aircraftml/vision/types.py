"""Small value types shared by the detector, the classifier and the recogniser."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned box in pixels of the image it was found in, with the detector's score."""

    x0: float
    y0: float
    x1: float
    y1: float
    score: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    def scaled(self, factor: float) -> Box:
        """The same box in an image ``factor`` times as large."""
        return Box(
            self.x0 * factor, self.y0 * factor, self.x1 * factor, self.y1 * factor, self.score
        )


@dataclass(frozen=True, slots=True)
class TypeGuess:
    """One candidate aircraft type with its calibrated confidence (0..1)."""

    label: str
    confidence: float


@dataclass(frozen=True, slots=True)
class LevelGuess:
    """The most likely group at one level of the type tree (a family, a manufacturer): the
    summed calibrated probability of its types, how many of the model's types it holds, and
    how it is named in a sentence ("Airbus A320-family jet")."""

    name: str
    confidence: float
    n_types: int
    spoken: str = ""

    @property
    def words(self) -> str:
        return self.spoken or self.name

    def to_dict(self) -> dict[str, object]:
        return {"label": self.name, "confidence": round(self.confidence, 3)}
