"""Words for what was seen: the reply text (within X's 280 weighted characters), the alt text
of each annotated photo, and the honest word for each confidence.

Pure functions of the recognitions (and of the mention, for the note that tells two
otherwise identical replies apart).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aircraftml.errors import (
    PhotoError,
    PhotoRefused,
    PhotoTimedOut,
    PhotoTooLarge,
    PhotoUnavailable,
)
from aircraftml.vision.naming import SURE_CONFIDENCE
from aircraftml.vision.recognizer import FoundAircraft, Recognition
from aircraftml.vision.types import TypeGuess

MAX_REPLY_CHARS = 280
MAX_ALT_TEXT_CHARS = 1000
MAYBE_CONFIDENCE = 0.4  # "maybe": likely, not claimed

HELP_TEXT = (
    "Hi! Mention me with a photo of an aircraft (or in a reply to a post with one) and I'll "
    "tell you what type it is."
)
NO_AIRCRAFT_TEXT = (
    "I looked closely but couldn't find an aircraft in your photo. One where the aircraft "
    "is larger in the frame may work better."
)
UNREADABLE_TEXT = "I couldn't open your photo: it seems damaged or in a format I don't read."
# What to say when a photo was not read for another reason than damage: our own limits
# and policy, or its host. Looked up along the error's class hierarchy.
PHOTO_PROBLEM_TEXTS: dict[type[PhotoError], str] = {
    PhotoError: UNREADABLE_TEXT,
    PhotoTooLarge: "Your photo is larger than I can take, so I couldn't look at it.",
    PhotoRefused: "I couldn't fetch your photo: it isn't hosted where I fetch photos from.",
    PhotoTimedOut: "Your photo took too long to download. Please try again later.",
    PhotoUnavailable: "I couldn't download your photo: its link answered with an error.",
}


@dataclass(frozen=True, slots=True)
class PhotoOutcome:
    """What happened to one photo of a mention: recognised, or why it could not be read
    (``error`` for the log, ``problem`` for the words of the reply)."""

    recognition: Recognition | None
    error: str | None = None
    problem: type[PhotoError] = PhotoError


def photo_problem_text(problem: type[PhotoError]) -> str:
    """The sentence for a photo that could not be read because of ``problem``."""
    return next(
        PHOTO_PROBLEM_TEXTS[kind] for kind in problem.__mro__ if kind in PHOTO_PROBLEM_TEXTS
    )


def confidence_phrase(confidence: float) -> str:
    """The honest word for a calibrated confidence."""
    if confidence >= 0.9:
        return "almost certainly"
    if confidence >= SURE_CONFIDENCE:
        return "probably"
    if confidence >= MAYBE_CONFIDENCE:
        return "maybe"
    return "not sure"


def with_article(label: str) -> str:
    article = "an" if label[:1].upper() in "AEIOU" else "a"
    return f"{article} {label}"


def describe_aircraft(found: FoundAircraft, *, percent: bool = True) -> str:
    """What the aircraft is, then its registration when it was read: ``probably an Embraer
    ERJ-145 (71%), registration F-GUBC (France)``. When the registry knows the registration,
    its exact type replaces the classifier's guess, and the reply says so: ``an Airbus
    A320-214, registration D-AIZA (Germany), type from the registry``."""
    registration = found.registration
    if registration is None:
        return describe_type(found, percent=percent)
    said = f"registration {registration.text} ({registration.country})"
    if found.registered_type:
        return f"{with_article(found.registered_type)}, {said}, type from the registry"
    return f"{describe_type(found, percent=percent)}, {said}"


def describe_type(found: FoundAircraft, *, percent: bool = True) -> str:
    """The most specific level the bot is sure of (``vision/naming.py``):
    ``probably an Airbus A320 (71%)``, ``probably an Airbus A320-family jet (90%), maybe an
    Airbus A319 (48%)``, ``an aircraft I can't name: it looks a little like a Boeing C-17``;
    when it is sure of nothing, the two best guesses."""
    if not found.types:
        return "an aircraft"
    best, named = found.types[0], found.named

    def share(confidence: float) -> str:
        return f" ({confidence:.0%})" if percent else ""

    if named.level == "unknown":
        return f"an aircraft I can't name: it looks a little like {with_article(best.label)}"
    if named.level == "type":
        phrase = confidence_phrase(best.confidence)
        return f"{phrase} {with_article(best.label)}{share(best.confidence)}"
    if named.level == "unsure":
        if best.confidence >= SURE_CONFIDENCE:
            # Likely among the types it knows, but under the model's bar: photos of types it
            # never saw get confidences this high too, so the guess is said as conditional.
            return (
                f"looks like {with_article(best.label)}{share(best.confidence)}, "
                "if it is a type I know"
            )
        if best.confidence >= MAYBE_CONFIDENCE:
            others = "".join(f", or {with_article(t.label)}" for t in found.types[1:2])
            return f"maybe {with_article(best.label)}{share(best.confidence)}{others}"
        return f"I'm not sure: {_alternatives(found.types)}?{share(best.confidence)}"
    hint = "maybe" if best.confidence >= MAYBE_CONFIDENCE else "most like"
    return (
        f"{confidence_phrase(named.confidence)} {with_article(named.words)}"
        f"{share(named.confidence)}, {hint} {with_article(best.label)}{share(best.confidence)}"
    )


def compose_reply(
    author_handle: str,
    outcomes: Sequence[PhotoOutcome],
    weighted_length: Callable[[str], int],
    note: str = "",
) -> str:
    """The reply text, shortened step by step until X's weighted length allows it.

    ``note`` (e.g. ``mention_note``) ends the text and is never shortened: it tells this
    reply apart from an identical one to another mention, which X would refuse.
    """
    for detail in _DETAIL_LEVELS:
        text = _mention(author_handle) + _body(outcomes, detail) + note
        if weighted_length(text) <= MAX_REPLY_CHARS:
            return text
    shortest = _mention(author_handle) + _body(outcomes, _DETAIL_LEVELS[-1])
    return _truncate(shortest, lambda text: weighted_length(text + note)) + note


def help_reply(author_handle: str, note: str = "") -> str:
    return _mention(author_handle) + HELP_TEXT + note


def mention_notes(post_id: str, posted_at_epoch_s: float) -> tuple[str, ...]:
    """Ways to tell replies to one user's mentions apart, from plainest to surest: none,
    the mention's time, then its id."""
    clock = time.strftime("%H:%M:%S", time.gmtime(posted_at_epoch_s))
    return ("", f" (for your post at {clock} UTC)", f" (for your post {post_id})")


def alt_text(recognition: Recognition) -> str:
    """What the annotated photo shows, for people who cannot see it."""
    count = len(recognition.aircraft)
    if count == 0:
        return "The photo, with no aircraft found in it."
    parts = [
        f"{number}, at the {_position(found, recognition)}: {describe_aircraft(found)}"
        for number, found in enumerate(recognition.aircraft, start=1)
    ]
    text = (
        f"The photo with {count} aircraft boxed and numbered left to right. "
        + "; ".join(parts)
        + "."
    )
    return text if len(text) <= MAX_ALT_TEXT_CHARS else text[: MAX_ALT_TEXT_CHARS - 1] + "…"


# Each level says less: percentages go first, then the per-aircraft details of later ones.
@dataclass(frozen=True, slots=True)
class _Detail:
    percent: bool
    max_listed: int


_DETAIL_LEVELS = (
    _Detail(percent=True, max_listed=99),
    _Detail(percent=False, max_listed=99),
    _Detail(percent=False, max_listed=4),
    _Detail(percent=False, max_listed=2),
    _Detail(percent=False, max_listed=1),
)


def _mention(handle: str) -> str:
    return f"@{handle.lstrip('@')} " if handle else ""


def _body(outcomes: Sequence[PhotoOutcome], detail: _Detail) -> str:
    if len(outcomes) == 1:
        return _photo_sentence(outcomes[0], detail)
    return " ".join(
        f"Photo {number}: {_photo_sentence(outcome, detail)}"
        for number, outcome in enumerate(outcomes, start=1)
    )


def _photo_sentence(outcome: PhotoOutcome, detail: _Detail) -> str:
    if outcome.recognition is None:
        return photo_problem_text(outcome.problem)
    aircraft = outcome.recognition.aircraft
    if not aircraft:
        return NO_AIRCRAFT_TEXT
    if len(aircraft) == 1:
        return f"I see one aircraft: {describe_aircraft(aircraft[0], percent=detail.percent)}."
    listed = aircraft[: detail.max_listed]
    items = "; ".join(
        f"{number}) {describe_aircraft(found, percent=detail.percent)}"
        for number, found in enumerate(listed, start=1)
    )
    rest = len(aircraft) - len(listed)
    more = f"; and {rest} more (see the picture)" if rest else ""
    return f"I see {len(aircraft)} aircraft, left to right: {items}{more}."


def _alternatives(types: Sequence[TypeGuess]) -> str:
    return " or ".join(with_article(t.label) for t in types[:2])


def _position(found: FoundAircraft, recognition: Recognition) -> str:
    x0, y0, x1, y1 = found.box
    cx = (x0 + x1) / 2 / max(recognition.photo.width, 1)
    cy = (y0 + y1) / 2 / max(recognition.photo.height, 1)
    horizontal = "left" if cx < 1 / 3 else "right" if cx > 2 / 3 else "centre"
    vertical = "top" if cy < 1 / 3 else "bottom" if cy > 2 / 3 else ""
    return f"{vertical} {horizontal}".strip() if vertical else horizontal


def _truncate(text: str, weighted_length: Callable[[str], int]) -> str:
    while text and weighted_length(text + "…") > MAX_REPLY_CHARS:
        text = text[:-1]
    return text.rstrip() + "…"
