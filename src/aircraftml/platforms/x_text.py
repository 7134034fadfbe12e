"""X's weighted character count (twitter-text configuration v3), used to keep posts <= 280.

Each code point weighs 100 in the ranges U+0000-U+10FF, U+2000-U+200D, U+2010-U+201F and
U+2032-U+2037, and 200 elsewhere (CJK, emoji, most non-Latin scripts). An emoji sequence
(ZWJ joins, skin tones, variation selectors, flags, keycaps) weighs 200 as one. Every URL
weighs 23 characters whatever its length. The text is NFC-normalised first. The limit is
28,000 weight units, i.e. 280 "characters" of weight 100.

A URL is what twitter-text takes for one: ``http(s)://`` or a bare ASCII ``name.tld``, whose
host labels are 1-63 characters (63 once punycode-encoded, for a Unicode host), neither
starting nor ending with ``-``, under a TLD of two or more letters; it ends before
whitespace, Unicode directional marks and trailing punctuation. A candidate whose host
breaks these rules is plain text, as twitter-text counts it. twitter-text checks the TLD
against its list and this does not, so a bare ``name.xyzzy`` counts 23 here (X counts its
letters): the count may be high for such text, never low (`tests/test_x_text_conformance.py`
runs twitter-text's v3 suite).
"""

from __future__ import annotations

import re
import unicodedata

MAX_WEIGHTED_LENGTH = 280
SCALE = 100
DEFAULT_WEIGHT = 200
URL_LENGTH = 23
LIGHT_RANGES = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))

_TRAILING = r"[.,!?:;'\")\]]"  # punctuation after a URL, not part of it
_NOT_IN_URL = "\\s\u202a-\u202e\u2066-\u2069\ufffe\uffff"
_URL = re.compile(
    rf"(?<![\w@.\-/])(?P<scheme>https?://)?(?P<host>[^{_NOT_IN_URL}/:?#]+?)"
    rf"(?P<port>:\d{{1,5}})?(?P<path>[/?#][^{_NOT_IN_URL}]*)?"
    rf"(?={_TRAILING}*(?:[{_NOT_IN_URL}]|$))",
    re.IGNORECASE,
)
_URL_END = re.compile(r"[^\w/=#+\-)]+$")  # trailing punctuation is not part of a URL
_LABEL = re.compile(r"^[^\W_](?:[\w-]*[^\W_])?$")
MAX_LABEL_CHARS = 63
_ZWJ = 0x200D

__all__ = ["MAX_WEIGHTED_LENGTH", "fits_in_post", "weighted_length"]


def weighted_length(text: str) -> int:
    """The length X counts for ``text`` (a post may have at most 280)."""
    text = unicodedata.normalize("NFC", text)
    units = 0
    position = 0
    for start, end in _url_spans(text):
        units += _weight_of_plain(text[position:start])
        units += URL_LENGTH * SCALE
        position = end
    units += _weight_of_plain(text[position:])
    return -(-units // SCALE)  # ceiling


def _url_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each URL in ``text``, as twitter-text finds them."""
    spans = []
    for match in _URL.finditer(text):
        if not _valid_host(match["host"], with_scheme=match["scheme"] is not None):
            continue
        end = match.end()
        if match["path"]:
            trailing = _URL_END.search(match["path"])
            end -= len(trailing.group()) if trailing else 0
        spans.append((match.start(), end))
    return spans


def _valid_host(host: str, *, with_scheme: bool) -> bool:
    labels = host.split(".")
    if len(labels) < 2 or not (with_scheme or host.isascii()):
        return False
    tld = labels[-1]
    if len(tld) < 2 or not all(ch.isalpha() for ch in tld):
        return False
    return all(_LABEL.match(label) and _label_chars(label) <= MAX_LABEL_CHARS for label in labels)


def _label_chars(label: str) -> int:
    """The label's length in DNS: its punycode form (``xn--...``) when it is not ASCII."""
    if label.isascii():
        return len(label)
    return len("xn--") + len(label.encode("punycode"))


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
