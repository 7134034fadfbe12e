"""A string is a registration only when it fits its country's register format whole; the
country comes from the nationality mark."""

from __future__ import annotations

import random
import re

import pytest

from aircraftml.vision.registration_formats import country_of, match_registration
from aircraftml.vision.registration_samples import DISTRACTORS, random_registration


@pytest.mark.parametrize(
    ("text", "country"),
    [
        ("F-GUBC", "France"),
        ("G-EUPT", "United Kingdom"),
        ("D-AIZA", "Germany"),
        ("N12345", "United States"),
        ("N3747D", "United States"),
        ("N802AN", "United States"),
        ("JA8089", "Japan"),
        ("JA731A", "Japan"),
        ("B-1234", "China"),
        ("B-HKD", "Hong Kong"),
        ("VH-OQA", "Australia"),
        ("C-FTJO", "Canada"),
        ("9V-SKA", "Singapore"),
        ("A6-EBK", "United Arab Emirates"),
        ("HL7611", "South Korea"),
        ("4O-AOM", "Montenegro"),
        ("RA-89001", "Russia"),
        ("EC-MXV", "Spain"),
    ],
)
def test_registrations_of_many_registers_are_recognised_with_their_country(
    text: str, country: str
) -> None:
    matched = match_registration(text)
    assert matched is not None
    assert (matched.text, matched.country, matched.substitutions) == (text, country, 0)
    assert country_of(text) == country


@pytest.mark.parametrize(
    "text",
    [
        "DELTA",  # D then four letters, but no dash: a word, not D-ELTA
        "BOEING",
        "GEUPT",  # the dash is part of a G- registration
        "F-GUB",  # one letter short
        "F-GUBCX",  # one too many
        "N0123",  # N-numbers never start with 0
        "N12X4",  # letters only at the end
        "N123456",  # at most five characters after the N
        "N-12345",  # and are written without a dash
        "JA-8089",
        "B-12",
        "HL761",
        "VH-OQ7",  # letters only after VH-
        "AF1234",  # flight numbers
        "LH400",
        "737-800",
        "",
    ],
)
def test_words_flight_numbers_and_near_misses_are_not_registrations(text: str) -> None:
    assert match_registration(text) is None


def test_a_digit_read_for_its_look_alike_letter_is_swapped_and_counted() -> None:
    # Given Montenegro's mark 4O read with a zero, as OCR reads it on the Fokker 100
    matched = match_registration("40-AOM")
    # Then it is 4O-AOM, with one substitution for the caller to weigh
    assert matched is not None
    assert (matched.text, matched.country, matched.substitutions) == ("4O-AOM", "Montenegro", 1)
    assert country_of("40-AOM") is None  # the country of what is written, not of a guess


def test_i_and_o_are_not_letters_where_digits_may_stand() -> None:
    # Where a position may hold a digit or a letter (Japan, China), I and O could be 1 and
    # 0: they are taken as the digits, and the swap is counted against the confidence
    for read, meant in (("JA155I", "JA1551"), ("B-123O", "B-1230")):
        matched = match_registration(read)
        assert matched is not None
        assert (matched.text, matched.substitutions) == (meant, 1)


def test_a_look_alike_that_fits_a_format_either_way_is_not_guessed() -> None:
    from aircraftml.vision.registration_formats import _fit_suffix

    either = re.compile("[0-9A-Z]{2}")
    assert _fit_suffix("1O", either) is None  # 10, 1O, I0 and IO all fit: no guess
    assert _fit_suffix("AB", either) == ("AB", 0)


def test_a_look_alike_the_format_rules_out_is_not_ambiguous() -> None:
    # The FAA issues no I or O: N1551 can only be N1551
    matched = match_registration("N1551")
    assert matched is not None and (matched.text, matched.substitutions) == ("N1551", 0)
    assert match_registration("JA8089") is not None


def test_spaces_dots_case_and_long_dashes_are_normalised() -> None:
    matched = match_registration(" f\u2013gubc. ")  # an en dash
    assert matched is not None
    assert matched.text == "F-GUBC"


def test_every_rendered_registration_parses_and_no_distractor_does() -> None:
    rng = random.Random(15)
    for _ in range(500):
        text = random_registration(rng)
        matched = match_registration(text)
        assert matched is not None, text
        assert (matched.text, matched.substitutions) == (text, 0)
    assert [word for word in DISTRACTORS if match_registration(word)] == []
