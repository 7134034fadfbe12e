""" "Not one I know": the rule that says a crop is none of the model's types.

A classifier spreads its probability over the types it knows, so a Vulcan or a Fokker 100
still gets a best guess. What tells them apart is how strongly the network answers: a type
it was trained on gets a larger top logit (and softmax peak) than a type it never saw. The
rule compares one such score with a threshold chosen on val, with classes left out of
training (``scripts/open_set_experiment.py``), and is stored in ``model.json``::

    "open_set": {"score": "max_logit", "threshold": 6.2, "sure_confidence": 0.85}

with the confidence from which the bot claims a type, family or maker ("probably"), chosen
in the same experiment: a type the model never saw gets a confidence calibrated on the ones
it knows, too high, and the bar keeps "probably" right 19 times in 20 over both, and claims
at most 5% of the photos of types left out of training. A model
without it (an older one, or one trained by a user on a closed set) calls every crop known,
and claims from ``naming.SURE_CONFIDENCE``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from aircraftml.vision.naming import SURE_CONFIDENCE

SCORES = ("max_probability", "max_logit", "energy")


@dataclass(frozen=True, slots=True)
class OpenSetRule:
    """A crop is known when its ``score`` is at least ``threshold``; what is named is
    claimed from ``sure_confidence``."""

    score: str
    threshold: float
    sure_confidence: float = SURE_CONFIDENCE

    def __post_init__(self) -> None:
        if self.score not in SCORES:
            raise ValueError(f"open-set score must be one of {', '.join(SCORES)}: {self.score!r}")
        if not np.isfinite(self.threshold):
            raise ValueError(f"open-set threshold must be a finite number: {self.threshold!r}")
        if not 0.5 <= self.sure_confidence < 1:
            raise ValueError(
                f"sure_confidence must be at least 0.5 and below 1: {self.sure_confidence!r}"
            )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OpenSetRule:
        sure = float(data.get("sure_confidence", SURE_CONFIDENCE))
        return cls(str(data["score"]), float(data["threshold"]), sure)

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "threshold": self.threshold,
            "sure_confidence": self.sure_confidence,
        }

    def scores(
        self, logits: npt.NDArray[np.floating[Any]], temperature: float
    ) -> npt.NDArray[np.float64]:
        return open_set_scores(logits, temperature, self.score)

    def known(
        self, logits: npt.NDArray[np.floating[Any]], temperature: float
    ) -> npt.NDArray[np.bool_]:
        return self.scores(logits, temperature) >= self.threshold


def open_set_scores(
    logits: npt.NDArray[np.floating[Any]], temperature: float, score: str
) -> npt.NDArray[np.float64]:
    """Per row: higher means more like a type the model knows."""
    values = np.asarray(logits, dtype=np.float64)
    if score == "max_logit":
        return np.asarray(values.max(axis=1), dtype=np.float64)
    scaled = values / temperature
    peak = scaled.max(axis=1, keepdims=True)
    log_total = np.log(np.exp(scaled - peak).sum(axis=1)) + peak[:, 0]
    if score == "energy":  # the negative free energy, T * logsumexp(logits / T)
        return np.asarray(temperature * log_total, dtype=np.float64)
    if score == "max_probability":
        return np.asarray(np.exp(peak[:, 0] - log_total), dtype=np.float64)
    raise ValueError(f"unknown open-set score {score!r}")
