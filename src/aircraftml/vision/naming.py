"""What the bot says an aircraft is: the most specific level of the type tree it is sure of.

A wrong variant said with confidence is worse than the right family: when no type reaches
"probably", the family's summed probability may ("probably an Airbus A320-family jet,
maybe an A319"), or the manufacturer's. When the open-set rule says the aircraft is none of
the known types, the bot names nothing and says what it looks a little like.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from aircraftml.vision.taxonomy import Taxonomy
from aircraftml.vision.types import LevelGuess, TypeGuess

# "probably" and stronger: what counts as a claim, unless the model sets its own bar
# (``open_set.OpenSetRule.sure_confidence``)
SURE_CONFIDENCE = 0.65
LEVELS = ("type", "family", "manufacturer", "unsure", "unknown")
# What came of one labelled aircraft, for evaluation.
OUTCOMES = ("type right", "family right", "maker right", "not claimed", "claimed wrong", "missed")


@dataclass(frozen=True, slots=True)
class Named:
    """``level`` is one of ``LEVELS``; ``label`` and ``confidence`` are what is named at it
    (for "unsure" and "unknown": the best type, which is not claimed). ``words`` is how the
    label reads in a sentence."""

    level: str
    label: str
    confidence: float
    words: str

    @property
    def is_claim(self) -> bool:
        """Whether the bot asserts something ("probably" or stronger) at this level."""
        return self.level in ("type", "family", "manufacturer")


def most_specific_sure_level(
    types: Sequence[TypeGuess],
    family: LevelGuess | None,
    manufacturer: LevelGuess | None,
    known: bool,
    *,
    sure_confidence: float = SURE_CONFIDENCE,
) -> Named:
    """The type when it is at least "probably" (``sure_confidence``); else its family, else
    its manufacturer, when they are (and hold more than one type); else "unsure". "unknown"
    when the open-set rule says it is none of the known types."""
    if not types:
        return Named("unsure", "aircraft", 0.0, "aircraft")
    best = types[0]
    if not known:
        return Named("unknown", best.label, best.confidence, best.label)
    if best.confidence >= sure_confidence:
        return Named("type", best.label, best.confidence, best.label)
    for level, group in (("family", family), ("manufacturer", manufacturer)):
        if group is not None and group.n_types > 1 and group.confidence >= sure_confidence:
            return Named(level, group.name, group.confidence, group.words)
    return Named("unsure", best.label, best.confidence, best.label)


class Guesses(Protocol):
    """What the classifier made of one aircraft (``Assessment``, ``FoundAircraft``)."""

    @property
    def types(self) -> tuple[TypeGuess, ...]: ...
    @property
    def family(self) -> LevelGuess | None: ...
    @property
    def manufacturer(self) -> LevelGuess | None: ...
    @property
    def known(self) -> bool: ...
    @property
    def sure_confidence(self) -> float: ...


def name_of(guesses: Guesses) -> Named:
    """:func:`most_specific_sure_level` of one aircraft, at its model's bar."""
    return most_specific_sure_level(
        guesses.types,
        guesses.family,
        guesses.manufacturer,
        guesses.known,
        sure_confidence=guesses.sure_confidence,
    )


def outcome_of(named: Named | None, label: str, taxonomy: Taxonomy) -> str:
    """One of ``OUTCOMES`` for what the bot said (None: it found no aircraft) about an
    aircraft of type ``label``; a label the taxonomy does not know must not be claimed."""
    if named is None:
        return "missed"
    if not named.is_claim:
        return "not claimed"
    if label not in taxonomy.labels:
        return "claimed wrong"
    index = taxonomy.labels.index(label)
    truth = {
        "type": (label, "type right"),
        "family": (taxonomy.families[index], "family right"),
        "manufacturer": (taxonomy.manufacturers[index], "maker right"),
    }
    expected, outcome = truth[named.level]
    return outcome if named.label == expected else "claimed wrong"
