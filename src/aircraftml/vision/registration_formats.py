"""Which strings are aircraft registrations, and of which country.

Every registration starts with its State's nationality mark (ICAO Annex 7; the marks are
allotted by the ITU call-sign series) and goes on in the format of that State's register:
``F-GUBC`` (France: F, a dash, four letters), ``N3747D`` (United States: N, no dash, one to
five digits and letters with at most two letters at the end, never I or O), ``JA8089``,
``B-1234``, ``HL7611``... A string is a registration only when it matches its country's
format whole; the dash is required where the register writes one, so that words painted on
aircraft ("DELTA", "BOEING", "EXIT") never pass for registrations.

OCR confuses a few letters and digits (O/0, I/1); where a format requires a letter and the
reader saw the digit it resembles (or the other way round), the substitution is made and
counted, so the caller can lower its confidence (``Match.substitutions``). Where the format
allows either (Japan's JA155I and JA1551 are both valid), nothing tells them apart: such a
string is ambiguous and is no registration at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LETTER = "[A-Z]"
DIGIT = "[0-9]"
# The FAA does not issue I or O. In the other schemes that mix digits and letters in one
# position (Japan's, China's) I and O are not accepted either: they cannot be told from 1
# and 0 there, so such a registration is not shown rather than maybe misread.
US_LETTER = "[A-HJ-NP-Z]"

# (mark, country, suffix pattern after the mark and its dash; dash=False: no dash written)
_FORMATS: tuple[tuple[str, str, str, bool], ...] = (
    (
        "N",
        "United States",
        rf"[1-9](?:{DIGIT}{{0,4}}|{DIGIT}{{0,3}}{US_LETTER}|"
        rf"{DIGIT}{{0,2}}{US_LETTER}{{2}})",
        False,
    ),
    ("C", "Canada", rf"[FGI]{LETTER}{{3}}", True),
    ("G", "United Kingdom", rf"{LETTER}{{4}}", True),
    ("D", "Germany", rf"{LETTER}{{4}}", True),
    ("F", "France", rf"{LETTER}{{4}}", True),
    ("I", "Italy", rf"{LETTER}{{4}}", True),
    ("EC", "Spain", rf"{LETTER}{{3}}", True),
    ("PH", "Netherlands", rf"{LETTER}{{3}}", True),
    ("OO", "Belgium", rf"{LETTER}{{3}}", True),
    ("LX", "Luxembourg", rf"{LETTER}{{3}}", True),
    ("HB", "Switzerland", rf"{LETTER}{{3}}", True),
    ("OE", "Austria", rf"{LETTER}{{3}}", True),
    ("EI", "Ireland", rf"{LETTER}{{3}}", True),
    ("CS", "Portugal", rf"{LETTER}{{3}}", True),
    ("SE", "Sweden", rf"{LETTER}{{3}}", True),
    ("LN", "Norway", rf"{LETTER}{{3}}", True),
    ("OY", "Denmark", rf"{LETTER}{{3}}", True),
    ("OH", "Finland", rf"{LETTER}{{3}}", True),
    ("TF", "Iceland", rf"{LETTER}{{3}}", True),
    ("SP", "Poland", rf"{LETTER}{{3}}", True),
    ("OK", "Czech Republic", rf"{LETTER}{{3}}", True),
    ("OM", "Slovakia", rf"{LETTER}{{3}}", True),
    ("HA", "Hungary", rf"{LETTER}{{3}}", True),
    ("YR", "Romania", rf"{LETTER}{{3}}", True),
    ("LZ", "Bulgaria", rf"{LETTER}{{3}}", True),
    ("SX", "Greece", rf"{LETTER}{{3}}", True),
    ("9H", "Malta", rf"{LETTER}{{3}}", True),
    ("5B", "Cyprus", rf"{LETTER}{{3}}", True),
    ("9A", "Croatia", rf"{LETTER}{{3}}", True),
    ("S5", "Slovenia", rf"{LETTER}{{3}}", True),
    ("YU", "Serbia", rf"{LETTER}{{3}}", True),
    ("4O", "Montenegro", rf"{LETTER}{{3}}", True),
    ("ES", "Estonia", rf"{LETTER}{{3}}", True),
    ("YL", "Latvia", rf"{LETTER}{{3}}", True),
    ("LY", "Lithuania", rf"{LETTER}{{3}}", True),
    ("UR", "Ukraine", rf"(?:{LETTER}{{3,4}}|{DIGIT}{{5}})", True),
    ("RA", "Russia", rf"{DIGIT}{{5}}", True),
    ("EW", "Belarus", rf"{DIGIT}{{5}}", True),
    ("TC", "Turkey", rf"{LETTER}{{3}}", True),
    ("4X", "Israel", rf"{LETTER}{{3}}", True),
    ("SU", "Egypt", rf"{LETTER}{{3}}", True),
    ("CN", "Morocco", rf"{LETTER}{{3}}", True),
    ("7T", "Algeria", rf"V{LETTER}{{2}}", True),
    ("TS", "Tunisia", rf"{LETTER}{{3}}", True),
    ("5N", "Nigeria", rf"{LETTER}{{3}}", True),
    ("5Y", "Kenya", rf"{LETTER}{{3}}", True),
    ("ET", "Ethiopia", rf"{LETTER}{{3}}", True),
    ("ZS", "South Africa", rf"{LETTER}{{3}}", True),
    ("A6", "United Arab Emirates", rf"{LETTER}{{3}}", True),
    ("A7", "Qatar", rf"{LETTER}{{3}}", True),
    ("A9C", "Bahrain", rf"{LETTER}{{2,3}}", True),
    ("A4O", "Oman", rf"{LETTER}{{2}}", True),
    ("HZ", "Saudi Arabia", rf"{LETTER}{{2,3}}", True),
    ("9K", "Kuwait", rf"{LETTER}{{3}}", True),
    ("JY", "Jordan", rf"{LETTER}{{3}}", True),
    ("AP", "Pakistan", rf"{LETTER}{{3}}", True),
    ("VT", "India", rf"{LETTER}{{3}}", True),
    ("4R", "Sri Lanka", rf"{LETTER}{{3}}", True),
    ("9V", "Singapore", rf"{LETTER}{{3}}", True),
    ("9M", "Malaysia", rf"{LETTER}{{3}}", True),
    ("HS", "Thailand", rf"{LETTER}{{3}}", True),
    ("PK", "Indonesia", rf"{LETTER}{{3}}", True),
    ("VN", "Vietnam", rf"A{DIGIT}{{3}}", True),
    ("RP", "Philippines", rf"C{DIGIT}{{3,4}}", True),
    ("B", "China", rf"(?:{DIGIT}{{4}}|{DIGIT}{{3}}{US_LETTER}|{DIGIT}{{2}}{US_LETTER}{{2}})", True),
    ("B", "Hong Kong", rf"H{LETTER}{{2}}", True),
    ("B", "Macau", rf"M{LETTER}{{2}}", True),
    (
        "JA",
        "Japan",
        rf"(?:{DIGIT}{{4}}|{DIGIT}{{3}}{US_LETTER}|{DIGIT}{{2}}{US_LETTER}{{2}})",
        False,
    ),
    ("HL", "South Korea", rf"{DIGIT}{{4}}", False),
    ("VH", "Australia", rf"{LETTER}{{3}}", True),
    ("ZK", "New Zealand", rf"{LETTER}{{3}}", True),
    ("PP", "Brazil", rf"{LETTER}{{3}}", True),
    ("PR", "Brazil", rf"{LETTER}{{3}}", True),
    ("PS", "Brazil", rf"{LETTER}{{3}}", True),
    ("PT", "Brazil", rf"{LETTER}{{3}}", True),
    ("LV", "Argentina", rf"{LETTER}{{3}}", True),
    ("CC", "Chile", rf"{LETTER}{{3}}", True),
    ("XA", "Mexico", rf"{LETTER}{{3}}", True),
    ("XB", "Mexico", rf"{LETTER}{{3}}", True),
    ("XC", "Mexico", rf"{LETTER}{{3}}", True),
    ("HK", "Colombia", rf"{DIGIT}{{4}}", True),
    ("OB", "Peru", rf"{DIGIT}{{4}}", True),
    ("HP", "Panama", rf"{DIGIT}{{4}}", True),
    ("YV", "Venezuela", rf"{DIGIT}{{3,4}}", True),
    ("CX", "Uruguay", rf"{LETTER}{{3}}", True),
)


@dataclass(frozen=True, slots=True)
class RegisterFormat:
    mark: str
    country: str
    pattern: re.Pattern[str]
    dash: bool

    def spelled(self, suffix: str) -> str:
        return f"{self.mark}-{suffix}" if self.dash else f"{self.mark}{suffix}"


FORMATS = tuple(
    RegisterFormat(mark, country, re.compile(suffix), dash)
    for mark, country, suffix, dash in _FORMATS
)

# What OCR reads for what: letter <-> digit pairs that look alike in the fonts on aircraft.
_AS_LETTER = {"0": "O", "1": "I"}
_AS_DIGIT = {"O": "0", "I": "1"}
_DASHES = str.maketrans({"\u2013": "-", "\u2014": "-", "_": "-", "~": "-", "=": "-"})
_MAX_SUFFIX = 6


@dataclass(frozen=True, slots=True)
class Match:
    """A string read as a registration: how it is written, its country, and how many
    characters had to be swapped for their look-alike to fit the format."""

    text: str
    country: str
    substitutions: int


def normalise(raw: str) -> str:
    """Upper case, one kind of dash, no spaces or stray punctuation (dots, quotes)."""
    text = raw.upper().translate(_DASHES)
    return "".join(ch for ch in text if ch.isascii() and (ch.isalnum() or ch == "-"))


def match_registration(raw: str) -> Match | None:
    """The registration ``raw`` spells, or None. Among the readings that fit a format the
    one with fewest substitutions wins; a tie between countries (no such pair in the table
    today), or a look-alike that fits the format either way, gives None rather than a
    guess."""
    text = normalise(raw)
    found = [m for fmt in FORMATS if (m := _match_format(text, fmt)) is not None]
    if not found:
        return None
    fewest = min(m.substitutions for m in found)
    best = {(m.text, m.country) for m in found if m.substitutions == fewest}
    if len({t for t, _ in best}) != 1:
        return None
    text_found, country = sorted(best)[0]
    return Match(text_found, country, fewest)


def country_of(registration: str) -> str | None:
    """The country whose register the registration's format belongs to."""
    matched = match_registration(registration)
    return matched.country if matched and matched.substitutions == 0 else None


def _match_format(text: str, fmt: RegisterFormat) -> Match | None:
    mark, swaps_mark = _fit_mark(text, fmt.mark)
    if mark is None:
        return None
    rest = text[len(fmt.mark) :]
    if fmt.dash:
        if not rest.startswith("-"):
            return None
        rest = rest[1:]
    elif rest.startswith("-"):
        return None
    if not 1 <= len(rest) <= _MAX_SUFFIX:
        return None
    suffix = _fit_suffix(rest, fmt.pattern)
    if suffix is None:
        return None
    spelled, swaps_suffix = suffix
    return Match(fmt.spelled(spelled), fmt.country, swaps_mark + swaps_suffix)


def _fit_mark(text: str, mark: str) -> tuple[str | None, int]:
    head = text[: len(mark)]
    if len(head) < len(mark):
        return None, 0
    swaps = 0
    for seen, wanted in zip(head, mark, strict=True):
        if seen == wanted:
            continue
        if _AS_LETTER.get(seen) == wanted or _AS_DIGIT.get(seen) == wanted:
            swaps += 1
            continue
        return None, 0
    return mark, swaps


def _fit_suffix(rest: str, pattern: re.Pattern[str]) -> tuple[str, int] | None:
    """``rest`` as read, or with look-alikes swapped where the format wants the other kind
    of character; None when no spelling fits, or more than one does (ambiguous)."""
    fitting = [
        (candidate, swaps)
        for candidate, swaps in _spellings([_alternatives(ch) for ch in rest])
        if pattern.fullmatch(candidate)
    ]
    return fitting[0] if len(fitting) == 1 else None


def _alternatives(ch: str) -> tuple[str, ...]:
    other = _AS_LETTER.get(ch) or _AS_DIGIT.get(ch)
    return (ch, other) if other else (ch,)


def _spellings(options: list[tuple[str, ...]]) -> list[tuple[str, int]]:
    spellings: list[tuple[str, int]] = [("", 0)]
    for choices in options:
        spellings = [
            (text + ch, swaps + (ch != choices[0])) for text, swaps in spellings for ch in choices
        ]
    return spellings
