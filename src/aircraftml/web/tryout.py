"""One uploaded photo through the bot's own path: the recognizer, then the bot's words.

``answer_json`` is what ``aircraftml classify --json`` prints for the photo, plus a ``bot``
key with what the bot would say: the reply text (as on X, without the @mention), the alt
text of the annotated picture, and for each aircraft its words and its box label.
"""

from __future__ import annotations

import base64
from typing import Any

from aircraftml.platforms.x_text import weighted_length
from aircraftml.reply import PhotoOutcome, alt_text, compose_reply, describe_aircraft
from aircraftml.vision.annotate import annotate, encode_jpeg, label_text
from aircraftml.vision.recognizer import Recognition, Recognizer
from aircraftml.web.limits import check_pixels


def recognize_upload(recognizer: Recognizer, data: bytes, *, max_pixels: int) -> Recognition:
    """The photo recognised, or ``PhotoError`` (too many pixels, unreadable...)."""
    check_pixels(data, max_pixels)
    return recognizer.recognize_bytes(data)


def answer_json(recognition: Recognition, image_name: str) -> dict[str, Any]:
    body = recognition.to_dict(image_name)
    body["bot"] = {
        "reply": compose_reply("", [PhotoOutcome(recognition)], weighted_length),
        "alt_text": alt_text(recognition),
        "aircraft": [
            {"said": describe_aircraft(found), "label": label_text(number, found)}
            for number, found in enumerate(recognition.aircraft, start=1)
        ],
    }
    return body


def annotated_data_url(recognition: Recognition) -> str:
    """The annotated picture as a ``data:`` URL, for the page without JavaScript: the
    picture goes back in the answer, and nothing is kept on the server."""
    jpeg = encode_jpeg(annotate(recognition), quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")
