"""Evaluation on full photos, as the bot sees them: decode -> detect -> crop -> classify.

``DIR/labels.csv`` (columns ``file,label``; an empty label, or one the model does not know,
marks a type the bot must not claim) names the main aircraft of each photo. The largest box
the detector finds is compared with it, so a photo where the detector finds nothing counts
as missed, as it would for the bot.

Each photo ends in one of: the type named right, named at its family (or maker) and right,
not claimed (unsure or "can't name"), claimed wrong, or missed by the detector. For the types
the model does not know, what matters is whether anything was claimed.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from aircraftml.errors import AircraftMLError
from aircraftml.vision.image import read_photo_bytes
from aircraftml.vision.naming import OUTCOMES, outcome_of
from aircraftml.vision.recognizer import FoundAircraft, Recognizer
from aircraftml.vision.taxonomy import Taxonomy

LABELS_FILE = "labels.csv"


class PhotoLabelsError(AircraftMLError):
    """The photo folder or its labels file cannot be read."""


@dataclass(frozen=True, slots=True)
class LabelledPhoto:
    path: Path
    label: str  # "" when the photo's type is not one the bot should name


@dataclass(frozen=True, slots=True)
class PhotoResult:
    """One photo: its label, what the bot said (None: no aircraft found), the outcome."""

    photo: LabelledPhoto
    known_label: bool
    found: FoundAircraft | None
    outcome: str

    def to_dict(self) -> dict[str, Any]:
        named = self.found.named if self.found else None
        return {
            "file": self.photo.path.name,
            "label": self.photo.label,
            "known_label": self.known_label,
            "outcome": self.outcome,
            "named": (
                {"level": named.level, "label": named.label, "confidence": named.confidence}
                if named
                else None
            ),
            "best_type": self.found.types[0].label if self.found and self.found.types else None,
        }


@dataclass(frozen=True, slots=True)
class PhotoEvaluation:
    """Every photo's result, and the rates over the known and the unknown types."""

    results: tuple[PhotoResult, ...]
    taxonomy: Taxonomy = field(repr=False)

    @property
    def known(self) -> tuple[PhotoResult, ...]:
        return tuple(r for r in self.results if r.known_label)

    @property
    def unknown(self) -> tuple[PhotoResult, ...]:
        return tuple(r for r in self.results if not r.known_label)

    def rates(self) -> dict[str, Any]:
        known, unknown = self.known, self.unknown
        types_right = sum(1 for r in known if _best_type(r) == r.photo.label)
        family_right = sum(1 for r in known if r.outcome in ("type right", "family right"))
        return {
            "photos": len(self.results),
            "known_photos": len(known),
            "unknown_photos": len(unknown),
            "type_top1": _share(types_right, len(known)),
            "family_top1": _share(sum(1 for r in known if self._best_family_right(r)), len(known)),
            "named_right_at_family_or_better": _share(family_right, len(known)),
            "outcomes": dict(Counter(r.outcome for r in known)),
            "unknown_claimed": sum(1 for r in unknown if r.outcome == "claimed wrong"),
            "refused": _share(sum(1 for r in known if r.outcome == "not claimed"), len(known)),
            "points_per_photo": _share(100, len(known)),
        }

    def to_dict(self) -> dict[str, Any]:
        return self.rates() | {"results": [r.to_dict() for r in self.results]}

    def format_text(self) -> str:
        rates = self.rates()
        lines = [
            f"{rates['photos']} photos: {rates['known_photos']} of known types "
            f"(one photo = {rates['points_per_photo']:.1f} points), "
            f"{rates['unknown_photos']} of types the bot must not claim",
            f"type top-1 {rates['type_top1']:.1%}   family top-1 {rates['family_top1']:.1%}   "
            f"named right at family level or better {rates['named_right_at_family_or_better']:.1%}"
            f"   not claimed {rates['refused']:.1%}",
            "known types: " + ", ".join(f"{k} {rates['outcomes'].get(k, 0)}" for k in OUTCOMES),
            f"unknown types claimed: {rates['unknown_claimed']} of {rates['unknown_photos']}",
        ]
        for result in self.results:
            named = result.found.named if result.found else None
            said = f"{named.level} {named.label} {named.confidence:.0%}" if named else "no aircraft"
            lines.append(
                f"  {result.photo.path.name}: {result.photo.label or '(unknown type)'} -> "
                f"{said} [{result.outcome}]"
            )
        return "\n".join(lines)

    def _best_family_right(self, result: PhotoResult) -> bool:
        family = result.found.family if result.found else None
        return family is not None and family.name == self.taxonomy.family_of(result.photo.label)

    def confusion(self) -> tuple[list[str], npt.NDArray[np.int64]]:
        """``(names, counts[true, said])`` over the known photos: rows the true type, columns
        what the bot named (a type, a family, or "not claimed" / "missed")."""
        rows = sorted({r.photo.label for r in self.known})
        said = [_said(r) for r in self.known]
        columns = rows + sorted(set(said) - set(rows))
        counts = np.zeros((len(columns), len(columns)), dtype=np.int64)
        for result, name in zip(self.known, said, strict=True):
            counts[columns.index(result.photo.label), columns.index(name)] += 1
        return columns, counts


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _best_type(result: PhotoResult) -> str | None:
    return result.found.types[0].label if result.found and result.found.types else None


def _said(result: PhotoResult) -> str:
    if result.found is None:
        return "missed"
    named = result.found.named
    return named.label if named.is_claim else "not claimed"


def read_labelled_photos(photo_dir: Path) -> list[LabelledPhoto]:
    """``photo_dir/labels.csv`` rows, each with an existing file; one-line errors."""
    path = photo_dir / LABELS_FILE
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or not {"file", "label"} <= set(reader.fieldnames):
                raise PhotoLabelsError(f"{path} needs 'file' and 'label' columns")
            rows = [(row["file"] or "", (row["label"] or "").strip()) for row in reader]
    except FileNotFoundError:
        raise PhotoLabelsError(f"no {LABELS_FILE} in {photo_dir} (columns: file,label)") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise PhotoLabelsError(f"cannot read {path}: {exc}") from None
    missing = [name for name, _ in rows if not (photo_dir / name).is_file()]
    if missing:
        raise PhotoLabelsError(f"{path} lists files that are not there: {', '.join(missing)}")
    return [LabelledPhoto(photo_dir / name, label) for name, label in rows]


def evaluate_photos(
    photo_dir: Path, recognizer: Recognizer, *, progress: bool = True
) -> PhotoEvaluation:
    """Run the bot's recognizer over every labelled photo and sort out each outcome."""
    photos = read_labelled_photos(photo_dir)
    taxonomy = recognizer.taxonomy
    results = []
    for photo in _progress(photos, progress):
        try:
            recognition = recognizer.recognize_bytes(read_photo_bytes(photo.path))
        except AircraftMLError as exc:
            raise PhotoLabelsError(f"{photo.path}: {exc}") from None
        found = _main_aircraft(recognition.aircraft)
        known_label = photo.label in taxonomy.labels
        results.append(
            PhotoResult(
                photo,
                known_label,
                found,
                outcome_of(found.named if found else None, photo.label, taxonomy),
            )
        )
    return PhotoEvaluation(tuple(results), taxonomy)


def _main_aircraft(aircraft: Sequence[FoundAircraft]) -> FoundAircraft | None:
    """The aircraft a labelled photo is about: the one with the largest box."""
    return max(aircraft, key=lambda a: (a.box[2] - a.box[0]) * (a.box[3] - a.box[1]), default=None)


def _progress(items: Sequence[LabelledPhoto], enabled: bool) -> Iterator[LabelledPhoto]:
    from tqdm import tqdm

    yield from tqdm(items, desc="photos", disable=not enabled, unit="photo", leave=False)
