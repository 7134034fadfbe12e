"""X's weighted character count (twitter-text configuration v3), used to keep posts <= 280.

Each code point weighs 100 in the ranges U+0000-U+10FF, U+2000-U+200D, U+2010-U+201F and
U+2032-U+2037, and 200 elsewhere (CJK, emoji, most non-Latin scripts). An emoji sequence
(ZWJ joins, skin tones, variation selectors, flags, keycaps) weighs 200 as one. Every URL
weighs 23 characters whatever its length. The text is NFC-normalised first. The limit is
28,000 weight units, i.e. 280 "characters" of weight 100.

URLs are recognised more eagerly than twitter-text does (any ``name.tld`` with a
two-or-more-letter TLD counts as a URL), so the count errs on the high side: a text this
function accepts is never too long for X.
"""

from __future__ import annotations

import re
import unicodedata

MAX_WEIGHTED_LENGTH = 280
SCALE = 100
DEFAULT_WEIGHT = 200
URL_LENGTH = 23
LIGHT_RANGES = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))

_URL = re.compile(
    r"(?:https?://|www\.)[^\s]+"
    r"|(?<![\w@.-])(?:[a-z0-9-]+\.)+[a-z]{2,63}(?::\d+)?(?:/[^\s]*)?(?![\w.-]*\w)",
    re.IGNORECASE,
)
_ZWJ = 0x200D

__all__ = ["MAX_WEIGHTED_LENGTH", "fits_in_post", "weighted_length"]


def weighted_length(text: str) -> int:
    """The length X counts for ``text`` (a post may have at most 280)."""
    text = unicodedata.normalize("NFC", text)
    units = 0
    position = 0
    for match in _URL.finditer(text):
        units += _weight_of_plain(text[position : match.start()])
        units += URL_LENGTH * SCALE
        position = match.end()
    units += _weight_of_plain(text[position:])
    return -(-units // SCALE)  # ceiling


def fits_in_post(text: str) -> bool:
    return weighted_length(text) <= MAX_WEIGHTED_LENGTH


def _weight_of_plain(text: str) -> int:
    points = [ord(ch) for ch in text]
    units = 0
    i = 0
    while i < len(points):
        if _starts_emoji(points[i]):
            i = _end_of_emoji(points, i)
            units += DEFAULT_WEIGHT
            continue
        units += _code_point_weight(points[i])
        i += 1
    return units


def _code_point_weight(point: int) -> int:
    for low, high in LIGHT_RANGES:
        if low <= point <= high:
            return SCALE
    return DEFAULT_WEIGHT


def _starts_emoji(point: int) -> bool:
    return 0x1F000 <= point <= 0x1FAFF or 0x2600 <= point <= 0x27BF


def _is_modifier(point: int) -> bool:
    return (
        point in (0xFE0E, 0xFE0F, 0x20E3)
        or 0x1F3FB <= point <= 0x1F3FF
        or 0xE0020 <= point <= 0xE007F
    )


def _is_regional_indicator(point: int) -> bool:
    return 0x1F1E6 <= point <= 0x1F1FF


def _end_of_emoji(points: list[int], start: int) -> int:
    """Index just past the emoji sequence that begins at ``start``."""
    i = start + 1
    if _is_regional_indicator(points[start]):
        return i + 1 if i < len(points) and _is_regional_indicator(points[i]) else i
    while i < len(points):
        if _is_modifier(points[i]):
            i += 1
        elif points[i] == _ZWJ and i + 1 < len(points):
            i += 2
        else:
            break
    return i
