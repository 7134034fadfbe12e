"""twitter-text's own v3 conformance cases for the weighted length (tests/data/x, Apache-2.0).

X counts a post's length with twitter-text's v3 configuration; these are that library's
published expectations, independent of our code and of the fake (which uses our code).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aircraftml.platforms.x_text import weighted_length

SUITE = json.loads(
    (Path(__file__).parent / "data" / "x" / "twitter-text-weighted.json").read_text("utf-8")
)
CASES = [
    pytest.param(case, id=case["description"][:60])
    for section in (
        "WeightedTweetsWithDiscountedEmojiCounterTest",
        "UnicodeDirectionalMarkerCounterTest",
    )
    for case in SUITE[section]
]


def test_the_transcription_matches_the_suites_own_ranges() -> None:
    for section in (
        "WeightedTweetsWithDiscountedEmojiCounterTest",
        "UnicodeDirectionalMarkerCounterTest",
    ):
        for case in SUITE[section]:
            utf16_units = len(case["text"].encode("utf-16-le")) // 2
            assert utf16_units - 1 == case["displayRangeEnd"], case["description"]


@pytest.mark.parametrize("case", CASES)
def test_weighted_length_is_twitter_texts(case: dict[str, Any]) -> None:
    assert weighted_length(case["text"]) == case["weightedLength"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("visit example.com.", 6 + 23 + 1),
        ("(see http://x.com)", 5 + 23 + 1),
        ("go to https://x.com/a.", 6 + 23 + 1),
        ("Boeing 737-800 (93%).", 21),
        ("an A320.", 8),
    ],
)
def test_punctuation_after_a_url_is_counted_apart_from_it(text: str, expected: int) -> None:
    assert weighted_length(text) == expected
