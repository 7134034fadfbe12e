"""Replies to the bot's answer, read as feedback and normalised against the vocabulary."""

from __future__ import annotations

import json

import pytest

from aircraftml.feedback import NAMED, RIGHT, WRONG, Feedback, read_feedback
from aircraftml.vision.classifier import SHIPPED_MODEL_DIR

# The 72 types of the shipped type tree
LABELS = tuple(json.loads((SHIPPED_MODEL_DIR / "taxonomy.json").read_text())["types"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@aircraftbot wrong, it's an A321", Feedback(WRONG, "Airbus A321")),
        ("@aircraftbot correct!", Feedback(RIGHT, None)),
        ("👍", Feedback(RIGHT, None)),
        ("Nope, that's a Boeing 737-800", Feedback(WRONG, "Boeing 737 NG")),
        ("no it's a 737 MAX 8", Feedback(WRONG, "Boeing 737 MAX")),
        ("it's a C-17", Feedback(NAMED, "Boeing C-17 Globemaster III")),
        ("Wrong. F-35", Feedback(WRONG, "Lockheed Martin F-35 Lightning II")),
        ("actually a Bf 109", Feedback(WRONG, "Messerschmitt Bf 109")),
        ("wrong", Feedback(WRONG, None)),
        ("it's a 737", None),  # NG or MAX: the bot does not guess which the person meant
        ("yes, the Dreamliner", Feedback(RIGHT, "Boeing 787")),
    ],
)
def test_replies_are_read_as_feedback_with_the_vocabularys_label(
    text: str, expected: Feedback | None
) -> None:
    assert read_feedback(text, LABELS) == expected


@pytest.mark.parametrize("text", ["@aircraftbot", "what a lovely day", "https://x.com/a/b"])
def test_text_that_is_not_feedback_is_none(text: str) -> None:
    assert read_feedback(text, LABELS) is None


def test_a_320_does_not_read_as_a_321_nor_an_f_16_as_an_f_15() -> None:
    assert read_feedback("wrong: A320", LABELS) == Feedback(WRONG, "Airbus A320")
    assert read_feedback("wrong: it's an F-16", LABELS) == Feedback(
        WRONG, "General Dynamics F-16 Fighting Falcon"
    )
