"""The tree above the types: manufacturer > family > type, shipped with the model.

An A319 and an A320 are hard to tell apart from one photo; that it is an A320-family jet is
not. ``taxonomy.json`` in a model directory gives each label its family and manufacturer;
the calibrated type probabilities summed over a family (a manufacturer) are the family's
(the manufacturer's) probability, as calibrated as the types' are. A model without the file
gets the flat tree: each label is its own family, of no known manufacturer.

``taxonomy.json``::

    {"format": "aircraftml-taxonomy", "format_version": 1,
     "family_names": {"Airbus A320 family": "Airbus A320-family jet"},
     "types": {"Airbus A319": {"family": "Airbus A320 family", "manufacturer": "Airbus"}}}

``family_names`` says how a family is named in a sentence, where its name alone would not
read well ("probably an Airbus A320-family jet").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from aircraftml.errors import ModelError
from aircraftml.vision.types import LevelGuess

TAXONOMY_FILE = "taxonomy.json"
TAXONOMY_FORMAT = "aircraftml-taxonomy"


@dataclass(frozen=True, slots=True)
class Taxonomy:
    """Each label's family and manufacturer, in the model's label order."""

    labels: tuple[str, ...]
    families: tuple[str, ...]
    manufacturers: tuple[str | None, ...]
    family_names: dict[str, str]

    @classmethod
    def flat(cls, labels: Sequence[str]) -> Taxonomy:
        """Each label its own family, of no known manufacturer (a model without a tree)."""
        return cls(tuple(labels), tuple(labels), (None,) * len(labels), {})

    @classmethod
    def load(cls, model_dir: Path, labels: Sequence[str]) -> Taxonomy:
        """``model_dir/taxonomy.json`` for ``labels``; the flat tree when there is none. A
        file that leaves out a label, or is malformed, raises ``ModelError``."""
        path = model_dir / TAXONOMY_FILE
        return cls.read(path, labels) if path.is_file() else cls.flat(labels)

    @classmethod
    def read(cls, path: Path, labels: Sequence[str]) -> Taxonomy:
        """The tree in the file ``path`` for ``labels`` (entries for other labels are left
        out); a missing label or a malformed file raises ``ModelError``."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != TAXONOMY_FORMAT:
                raise ValueError(f"'format' is not {TAXONOMY_FORMAT!r}")
            return cls.from_types(labels, data["types"], data.get("family_names", {}))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ModelError(f"cannot read {path}: {exc}") from None

    @classmethod
    def from_types(
        cls,
        labels: Sequence[str],
        types: dict[str, dict[str, str]],
        family_names: dict[str, str] | None = None,
    ) -> Taxonomy:
        missing = [label for label in labels if label not in types]
        if missing:
            raise ValueError(f"no family for {', '.join(missing)}")
        return cls(
            tuple(labels),
            tuple(str(types[label]["family"]) for label in labels),
            tuple(types[label].get("manufacturer") for label in labels),
            dict(family_names or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": TAXONOMY_FORMAT,
            "format_version": 1,
            "family_names": self.family_names,
            "types": {
                label: {"family": family, "manufacturer": maker}
                for label, family, maker in zip(
                    self.labels, self.families, self.manufacturers, strict=True
                )
            },
        }

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")

    def family_of(self, label: str) -> str:
        return self.families[self.labels.index(label)]

    def spoken_family(self, family: str) -> str:
        """How the family is named in a sentence."""
        return self.family_names.get(family, family)

    def best_family(self, probabilities: npt.NDArray[np.floating[Any]]) -> LevelGuess:
        """The family with the largest summed probability (one row of probabilities)."""
        best = _best_group(self.families, probabilities)
        return replace(best, spoken=self.spoken_family(best.name))

    def best_manufacturer(self, probabilities: npt.NDArray[np.floating[Any]]) -> LevelGuess | None:
        """The manufacturer with the largest summed probability; None for a flat tree."""
        if all(maker is None for maker in self.manufacturers):
            return None
        names = tuple(maker or "unknown maker" for maker in self.manufacturers)
        return _best_group(names, probabilities)

    def group_probabilities(
        self, probabilities: npt.NDArray[np.floating[Any]], level: str
    ) -> tuple[tuple[str, ...], npt.NDArray[np.float64]]:
        """``[N, groups]`` summed probabilities at ``level`` ("family" or "manufacturer"),
        and the groups' names: what evaluation at that level scores."""
        groups, index = self._groups(level)
        summed = np.zeros((probabilities.shape[0], len(groups)), dtype=np.float64)
        np.add.at(summed.T, index, np.asarray(probabilities, dtype=np.float64).T)
        return groups, summed

    def group_index(self, level: str) -> npt.NDArray[np.int64]:
        """For each label, the index of its group at ``level`` in ``group_probabilities``."""
        return self._groups(level)[1]

    def _groups(self, level: str) -> tuple[tuple[str, ...], npt.NDArray[np.int64]]:
        """The sorted group names at ``level`` and each label's index among them."""
        names = [
            name or "unknown maker"
            for name in (self.families if level == "family" else self.manufacturers)
        ]
        groups = tuple(sorted(set(names)))
        return groups, np.asarray([groups.index(name) for name in names], dtype=np.int64)


def _best_group(names: Sequence[str], probabilities: npt.NDArray[np.floating[Any]]) -> LevelGuess:
    totals: dict[str, float] = {}
    counts: dict[str, int] = {}
    for name, probability in zip(names, probabilities, strict=True):
        totals[name] = totals.get(name, 0.0) + float(probability)
        counts[name] = counts.get(name, 0) + 1
    best = max(totals, key=lambda name: totals[name])
    return LevelGuess(best, totals[best], counts[best])
