"""What a person means by a reply to the bot's answer: "correct", "wrong, it's an A321".

``read_feedback`` turns the text of a reply into a :class:`Feedback`: the verdict (the bot
was right, wrong, or the person just names the type) and the label it names, normalised
against the model's vocabulary ("a321" and "Airbus A321" are both ``Airbus A321``; "737-800"
is ``Boeing 737 NG``). Text that is neither is not feedback (None), and the bot treats it as
any other mention.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

RIGHT = "right"
WRONG = "wrong"
NAMED = "named"  # a type named with no verdict: "it's an A321"

_HANDLES_AND_LINKS = re.compile(r"(@\w+|https?://\S+)")
_RIGHT_WORDS = re.compile(
    r"^\W*(correct|right|yes|yep|yeah|exactly|spot on|that's it|that is it|well done|"
    r"good bot|nailed it|bingo)\b|^\W*(👍|✅|💯)"
)
_WRONG_WORDS = re.compile(r"\b(wrong|incorrect|nope|no|not quite|mistaken|actually)\b|^\W*(👎|❌)")
# The variants spotters name that the vocabulary groups under one label.
_VARIANT_ALIASES = {
    "Boeing 737 NG": ("737-600", "737-700", "737-800", "737-900", "737ng", "b738", "b737"),
    "Boeing 737 MAX": ("737 max 8", "737-8", "737-9", "737max", "b38m"),
    "Boeing 747": ("747-400", "747-8", "jumbo", "b744", "b748"),
    "Boeing 777": ("777-200", "777-300", "777-300er", "b77w", "b772"),
    "Boeing 777X": ("777-9", "777-8"),
    "Boeing 787": ("787-8", "787-9", "787-10", "dreamliner", "b789", "b788"),
    "Airbus A320": ("a320neo", "a320ceo", "a20n"),
    "Airbus A321": ("a321neo", "a321xlr", "a21n"),
    "Airbus A350": ("a350-900", "a350-1000", "a359", "a35k"),
    "Airbus A380": ("a380-800", "a388", "superjumbo"),
    "Airbus A330": ("a330-300", "a330-200", "a330neo", "a333", "a332"),
}


@dataclass(frozen=True, slots=True)
class Feedback:
    """``verdict`` is RIGHT, WRONG or NAMED; ``label`` the type named (None when none is)."""

    verdict: str
    label: str | None


def read_feedback(text: str, labels: Sequence[str]) -> Feedback | None:
    """The feedback in ``text`` about the bot's answer, or None when it is not feedback."""
    words = _HANDLES_AND_LINKS.sub(" ", text).strip().lower()
    if not words:
        return None
    label = find_label(words, labels)
    if _WRONG_WORDS.search(words):
        return Feedback(WRONG, label)
    if _RIGHT_WORDS.search(words):
        return Feedback(RIGHT, label)
    if label is not None:
        return Feedback(NAMED, label)
    return None


def find_label(text: str, labels: Sequence[str]) -> str | None:
    """The vocabulary label that ``text`` names: the one with the longest alias found in
    it; None when none is, or when that alias names several ("737": NG or MAX?)."""
    found: dict[str, int] = {}
    for label in labels:
        for alias in aliases(label):
            if re.search(rf"(?<![\w-]){re.escape(alias)}(?![\w-])", text):
                found[label] = max(found.get(label, 0), len(alias))
    if not found:
        return None
    longest = max(found.values())
    best = [label for label, length in found.items() if length == longest]
    return best[0] if len(best) == 1 else None


def aliases(label: str) -> Iterable[str]:
    """Lower-case names a person may use for ``label``: the label, without its maker, its
    designation ("F-35", "A321", "C-17"), hyphen-free spellings, and known variants."""
    full = label.lower()
    yield full
    parts = full.split()
    for start in range(1, len(parts)):
        rest = " ".join(parts[start:])
        if any(ch.isdigit() for ch in rest):
            yield rest
    for part in parts:
        if any(ch.isdigit() for ch in part) and len(part) >= 3:
            yield part
            if "-" in part:
                yield part.replace("-", "")
    yield from _VARIANT_ALIASES.get(label, ())
