"""Bluesky's texts: length in graphemes (a post holds 300), the mention facet that makes
``@handle`` a link to the person, and the record key of our reply, derived from the mention.

Graphemes are counted without a Unicode segmentation library: combining marks, variation
selectors, skin-tone modifiers and the parts of a ZWJ sequence join the character before,
and a pair of regional indicators is one flag. That matches the extended grapheme clusters
of the texts the bot writes (English, handles, an ellipsis); it is a close count, not UAX 29.
"""

from __future__ import annotations

import hashlib
import unicodedata
from typing import Any

MAX_GRAPHEMES = 300
MAX_BYTES = 3000
TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
NOBOT_TAG = "#nobot"
_ZWJ = "\u200d"


def _joins_previous(char: str) -> bool:
    code = ord(char)
    return (
        unicodedata.combining(char) != 0
        or unicodedata.category(char) in ("Mn", "Me")
        or 0xFE00 <= code <= 0xFE0F
        or 0x1F3FB <= code <= 0x1F3FF
        or 0xE0020 <= code <= 0xE007F
        or char == _ZWJ
    )


def graphemes(text: str) -> int:
    count, after_zwj, open_flag = 0, False, False
    for char in text:
        regional = 0x1F1E6 <= ord(char) <= 0x1F1FF
        if after_zwj or _joins_previous(char) or (regional and open_flag):
            open_flag = False
        else:
            count += 1
            open_flag = regional
        after_zwj = char == _ZWJ
    return count


def mention_facets(text: str, handle: str, did: str) -> list[dict[str, Any]]:
    """A ``app.bsky.richtext.facet#mention`` for each ``@handle`` in ``text`` (UTF-8 byte
    offsets, as the lexicon wants)."""
    facets = []
    needle = f"@{handle}"
    start = text.find(needle)
    while start != -1:
        end = start + len(needle)
        if end == len(text) or not (text[end].isalnum() or text[end] in ".-"):
            byte_start = len(text[:start].encode())
            facets.append(
                {
                    "index": {
                        "byteStart": byte_start,
                        "byteEnd": byte_start + len(needle.encode()),
                    },
                    "features": [{"$type": "app.bsky.richtext.facet#mention", "did": did}],
                }
            )
        start = text.find(needle, end)
    return facets


def _tid(timestamp_us: int, clock_id: int) -> str:
    value = ((timestamp_us & ((1 << 53) - 1)) << 10) | (clock_id & 0x3FF)
    return "".join(TID_ALPHABET[(value >> shift) & 31] for shift in range(60, -1, -5))


def _tid_timestamp_us(rkey: str) -> int | None:
    if len(rkey) != 13 or any(c not in TID_ALPHABET for c in rkey):
        return None
    value = 0
    for char in rkey:
        value = value << 5 | TID_ALPHABET.index(char)
    return value >> 10


def reply_rkey(mention_uri: str) -> str:
    """Our reply's record key: a TID with the mention's own time (its record key's, when it
    is a TID) and a clock id from a hash of its URI; the same on every try, so a second
    ``createRecord`` of the same reply is refused by the server."""
    digest = hashlib.sha256(mention_uri.encode()).digest()
    timestamp_us = _tid_timestamp_us(mention_uri.rsplit("/", 1)[-1])
    if timestamp_us is None:
        timestamp_us = int.from_bytes(digest[2:9], "big") >> 3
    return _tid(timestamp_us, int.from_bytes(digest[:2], "big"))


def new_tid(now_s: float, clock_id: int = 0) -> str:
    return _tid(int(now_s * 1_000_000), clock_id)


def says_nobot(description: str) -> bool:
    return NOBOT_TAG in description.lower()
