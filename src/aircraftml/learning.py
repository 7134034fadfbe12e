"""A bot that learns from its users: what it answered, what people say back, who opted out.

- Each answer naming aircraft is kept (state record ``answer``, by the platform and the
  reply's post id): the mention, its photo, and what the bot said of each aircraft.
- A mention that replies to one of those answers and reads as feedback (``feedback.py``:
  "wrong, it's an A321", "correct") is kept as a ``correction`` with the aircraft cut from
  the photo as the bot cut it (when the answer was about one aircraft), and the bot thanks
  the person. ``aircraftml corrections export DIR`` writes them as a training folder.
- "stop" opts a person out: the bot does not answer them again, and nothing of theirs is
  kept (their corrections are deleted, new ones are not recorded); "start" undoes it.

Records hold ids, labels and a small JPEG of the aircraft: never the whole photo.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from aircraftml.domain import Request
from aircraftml.errors import PhotoError
from aircraftml.feedback import RIGHT, Feedback, read_feedback
from aircraftml.reply import PhotoOutcome, with_article
from aircraftml.state.base import StateStore
from aircraftml.vision.crop import crop_rectangle
from aircraftml.vision.detector_crops import TRAIN_CROP_MARGIN
from aircraftml.vision.image import decode_photo
from aircraftml.vision.types import Box

logger = logging.getLogger(__name__)

ANSWER, CORRECTION, OPTOUT = "answer", "correction", "optout"
CROP_MAX_SIDE_PX = 320
_STOP = re.compile(r"^\W*(stop|unsubscribe|leave me alone|go away)\W*$")
_START = re.compile(r"^\W*(start|unstop|come back)\W*$")
_HANDLES = re.compile(r"@\w+")

STOP_TEXT = "OK, I won't answer you again, and I've forgotten your corrections. Say start to undo."
START_TEXT = "Welcome back! Mention me with a photo of an aircraft and I'll tell you its type."


@dataclass(frozen=True, slots=True)
class SaidAircraft:
    """What the bot said of one aircraft: its box (full-size photo pixels) and the label
    at the level it named (or its best type when it named none)."""

    box: tuple[int, int, int, int]
    label: str
    level: str
    confidence: float


@dataclass(frozen=True, slots=True)
class Answer:
    mention_id: str
    photo_url: str
    aircraft: tuple[SaidAircraft, ...]

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Answer:
        data = json.loads(text)
        aircraft = tuple(
            SaidAircraft(tuple(a["box"]), a["label"], a["level"], a["confidence"])
            for a in data["aircraft"]
        )
        return cls(data["mention_id"], data["photo_url"], aircraft)


class Learning:
    """Keeps answers, reads feedback on them, honours opt-outs. ``labels``: the vocabulary
    feedback is normalised against; ``download``: the platform's photo download."""

    def __init__(
        self,
        state: StateStore,
        labels: Sequence[str],
        download: Callable[[str], bytes],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._state = state
        self._labels = tuple(labels)
        self._download = download
        self._clock = clock

    # ------------------------------------------------------------------------- opt-outs

    def opted_out(self, request: Request) -> bool:
        return self._state.get_record(OPTOUT, _person(request)) is not None

    def reply_to_stop_or_start(self, request: Request) -> str | None:
        """The reply when the mention says "stop" or "start" (and the record kept), else
        None. "start" from someone who never stopped is an ordinary mention."""
        words = _HANDLES.sub(" ", request.text).strip().lower()
        if _STOP.match(words):
            self._state.put_record(OPTOUT, _person(request), str(self._clock()))
            self._forget_corrections_of(request)
            logger.info("post %s: author opted out", request.post_id)
            return STOP_TEXT
        if _START.match(words) and self.opted_out(request):
            self._state.delete_record(OPTOUT, _person(request))
            logger.info("post %s: author opted back in", request.post_id)
            return START_TEXT
        return None

    def _forget_corrections_of(self, request: Request) -> None:
        person = _person(request)
        for key, value in self._state.records(CORRECTION):
            if json.loads(value).get("person") == person:
                self._state.delete_record(CORRECTION, key)

    # ----------------------------------------------------------------- answers, feedback

    def remember_answer(
        self,
        request: Request,
        reply_id: str | None,
        photo_urls: Sequence[str],
        outcomes: Sequence[PhotoOutcome],
    ) -> None:
        """Keep what the bot said of the first photo with aircraft, under its reply's id."""
        if reply_id is None:
            return
        for url, outcome in zip(photo_urls, outcomes, strict=False):
            recognition = outcome.recognition
            if recognition is None or not recognition.aircraft:
                continue
            said = tuple(
                SaidAircraft(
                    found.box, found.named.label, found.named.level, found.named.confidence
                )
                for found in recognition.aircraft
            )
            answer = Answer(request.post_id, url, said)
            self._state.put_record(ANSWER, f"{request.platform}:{reply_id}", answer.to_json())
            return

    def reply_to_feedback(self, request: Request) -> str | None:
        """When the mention replies to one of our answers with feedback: keep it (unless
        its author opted out) and return the thanks; else None."""
        if request.in_reply_to_id is None:
            return None
        kept = self._state.get_record(ANSWER, f"{request.platform}:{request.in_reply_to_id}")
        if kept is None:
            return None
        feedback = read_feedback(request.text, self._labels)
        if feedback is None:
            return None
        answer = Answer.from_json(kept)
        label = feedback.label
        if label is None and feedback.verdict == RIGHT and len(answer.aircraft) == 1:
            said = answer.aircraft[0]
            label = said.label if said.level == "type" else None
        self._keep_correction(request, answer, feedback, label)
        return thanks(feedback, label)

    def _keep_correction(
        self, request: Request, answer: Answer, feedback: Feedback, label: str | None
    ) -> None:
        record: dict[str, Any] = {
            "person": _person(request),
            "mention_id": answer.mention_id,
            "photo_url": answer.photo_url,
            "said": [asdict(a) for a in answer.aircraft],
            "verdict": feedback.verdict,
            "label": label,
            "at_epoch_s": self._clock(),
            "crop_jpeg_base64": None,
        }
        if label is not None and len(answer.aircraft) == 1:
            record["crop_jpeg_base64"] = self._crop(request, answer.photo_url, answer.aircraft[0])
        key = f"{request.platform}:{request.post_id}"
        self._state.put_record(CORRECTION, key, json.dumps(record, separators=(",", ":")))
        logger.info("post %s: %s, label %s, kept", request.post_id, feedback.verdict, label)

    def _crop(self, request: Request, url: str, said: SaidAircraft) -> str | None:
        """The aircraft cut as training crops are (``detector_crops``), as base64 JPEG."""
        try:
            photo = decode_photo(self._download(url))
        except PhotoError as exc:
            logger.warning("post %s: photo %s for the correction: %s", request.post_id, url, exc)
            return None
        box = Box(*said.box, score=1.0).scaled(photo.scale)
        image = photo.image.crop(
            crop_rectangle(box, photo.image.width, photo.image.height, TRAIN_CROP_MARGIN)
        )
        image.thumbnail((CROP_MAX_SIDE_PX, CROP_MAX_SIDE_PX))
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=90)
        return base64.b64encode(out.getvalue()).decode("ascii")


def thanks(feedback: Feedback, label: str | None) -> str:
    if feedback.verdict == RIGHT:
        if label is None:
            return "Thanks for confirming!"
        named = with_article(label)
        return f"Thanks for confirming! {named[:1].upper()}{named[1:]} it is."
    if label is None:
        return (
            "Thanks! Which type is it? Reply to my answer with its name, "
            "for example: wrong, it's an Airbus A321."
        )
    return f"Thanks! Noted: {with_article(label)}. I'll learn from it."


def _person(request: Request) -> str:
    return f"{request.platform}:{request.author_id}"
