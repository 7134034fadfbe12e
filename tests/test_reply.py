"""The reply names each aircraft left to right with an honest word for its confidence, and
always fits X's 280 weighted characters."""

from __future__ import annotations

from PIL import Image

from aircraftml.platforms.x_text import weighted_length
from aircraftml.reply import (
    NO_AIRCRAFT_TEXT,
    UNREADABLE_TEXT,
    PhotoOutcome,
    alt_text,
    compose_reply,
    confidence_phrase,
    help_reply,
)
from aircraftml.vision.image import Photo
from aircraftml.vision.recognizer import FoundAircraft, Recognition
from aircraftml.vision.types import TypeGuess


def _recognition(*aircraft: tuple[str, float], width: int = 900) -> Recognition:
    found = tuple(
        FoundAircraft(
            box=(i * 100, 10, i * 100 + 80, 60),
            score=0.9,
            types=(TypeGuess(label, confidence), TypeGuess("Boeing 777", (1 - confidence) / 2)),
        )
        for i, (label, confidence) in enumerate(aircraft)
    )
    photo = Photo(image=Image.new("RGB", (width // 2, 300)), width=width, height=600)
    return Recognition(photo=photo, aircraft=found, timings_ms={})


def test_confidence_words_follow_the_calibrated_probability() -> None:
    assert confidence_phrase(0.97) == "almost certainly"
    assert confidence_phrase(0.7) == "probably"
    assert confidence_phrase(0.5) == "maybe"
    assert confidence_phrase(0.2) == "not sure"


def test_one_aircraft_is_named_with_article_word_and_percent() -> None:
    # Given one photo with an Airbus A320 at 72%
    outcome = PhotoOutcome(_recognition(("Airbus A320", 0.72)))
    # When the reply is composed
    text = compose_reply("alice", [outcome], weighted_length)
    # Then it mentions the author and says "probably an Airbus A320 (72%)"
    assert text == "@alice I see one aircraft: probably an Airbus A320 (72%)."


def test_several_aircraft_are_numbered_left_to_right() -> None:
    outcome = PhotoOutcome(_recognition(("Boeing 747", 0.95), ("Cessna 172", 0.3)))
    text = compose_reply("bob", [outcome], weighted_length)
    assert text.startswith("@bob I see 2 aircraft, left to right: 1) almost certainly a Boeing 747")
    assert "2) I'm not sure: a Cessna 172 or a Boeing 777? (30%)" in text


def test_no_aircraft_and_unreadable_photos_are_said_kindly() -> None:
    empty = PhotoOutcome(_recognition())
    broken = PhotoOutcome(None, error="truncated")
    assert compose_reply("c", [empty], weighted_length) == "@c " + NO_AIRCRAFT_TEXT
    text = compose_reply("c", [empty, broken], weighted_length)
    assert text == f"@c Photo 1: {NO_AIRCRAFT_TEXT} Photo 2: {UNREADABLE_TEXT}"


def test_many_aircraft_in_four_photos_still_fit_in_280_weighted_characters() -> None:
    # Given four photos with ten aircraft each, long labels, and a CJK-heavy handle
    crowd = [("General Atomics MQ-9 Reaper", 0.55)] * 10
    outcomes = [PhotoOutcome(_recognition(*crowd)) for _ in range(4)]
    # When composed / Then it fits, and still says how many aircraft each photo has
    text = compose_reply("pilot_" + "x" * 9, outcomes, weighted_length)
    assert weighted_length(text) <= 280
    assert "Photo 1: I see 10 aircraft" in text


def test_help_reply_mentions_the_author() -> None:
    assert help_reply("@dana").startswith("@dana Hi! Mention me with a photo")


def test_alt_text_describes_each_aircraft_and_where_it_is() -> None:
    recognition = _recognition(("Boeing 747", 0.95), ("Airbus A380", 0.8))
    text = alt_text(recognition)
    assert text.startswith("The photo with 2 aircraft boxed and numbered left to right.")
    assert "1, at the top left: almost certainly a Boeing 747 (95%)" in text
    assert "2, at the top left: probably an Airbus A380 (80%)" in text
    assert len(alt_text(_recognition(*[("Boeing 747", 0.9)] * 200))) <= 1000
