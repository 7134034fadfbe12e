"""A bot that learns from its users: feedback on its answers is kept (with the aircraft's
crop), thanked, exported as a training folder; "stop" is honoured and forgets."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from aircraftml.demo import draw_airliner
from aircraftml.domain import Request
from aircraftml.handler import Handler, Outcome
from aircraftml.learning import ANSWER, CORRECTION, OPTOUT, STOP_TEXT, Learning
from aircraftml.platforms.x_text import weighted_length
from aircraftml.state.memory import MemoryStateStore
from aircraftml.vision.image import decode_photo
from aircraftml.vision.recognizer import FoundAircraft, Recognition
from aircraftml.vision.types import TypeGuess
from test_handler import PlatformDouble

LABELS = ("Airbus A320", "Airbus A321", "Boeing 747")
PHOTO = draw_airliner()


class OneAirliner:
    """Sees one aircraft, an Airbus A320 at 80%, in the middle of any photo."""

    def recognize_bytes(self, data: bytes) -> Recognition:
        photo = decode_photo(data)
        box = (photo.width // 5, photo.height // 3, 4 * photo.width // 5, 2 * photo.height // 3)
        found = FoundAircraft(box, 0.9, (TypeGuess("Airbus A320", 0.8),))
        return Recognition(photo=photo, aircraft=(found,), timings_ms={"total": 1.0})


def mention(post_id: str, text: str, **extra: str | tuple[str, ...] | None) -> Request:
    return Request(
        platform="x",
        post_id=post_id,
        author_id=str(extra.get("author_id", "42")),
        author_handle="alice",
        text=text,
        photo_urls=extra.get("photos", ()),  # type: ignore[arg-type]
        in_reply_to_id=extra.get("in_reply_to_id"),  # type: ignore[arg-type]
    )


@pytest.fixture
def bot() -> tuple[Handler, PlatformDouble, MemoryStateStore]:
    platform = PlatformDouble(photos={"u/airliner": PHOTO})
    state = MemoryStateStore()
    learning = Learning(state, LABELS, platform.download_photo)
    handler = Handler(
        platform,
        state,
        OneAirliner(),  # type: ignore[arg-type]
        weighted_length=weighted_length,
        claim_ttl_s=60,
        learning=learning,
    )
    return handler, platform, state


def test_a_correction_of_an_answer_is_kept_with_the_aircrafts_crop_and_thanked(
    bot: tuple[Handler, PlatformDouble, MemoryStateStore],
) -> None:
    handler, platform, state = bot
    # Given the bot answered a mention with a photo ("probably an Airbus A320")
    first = handler.handle(mention("m1", "@planebot what is it?", photos=("u/airliner",)))
    assert first.outcome is Outcome.REPLIED and "Airbus A320" in platform.replies[0].text
    assert state.get_record(ANSWER, f"x:{first.reply_id}") is not None

    # When someone replies to that answer "wrong, it's an A321"
    second = handler.handle(
        mention(
            "m2", "@planebot wrong, it's an A321", in_reply_to_id=first.reply_id, author_id="77"
        )
    )

    # Then the bot thanks them, naming the type it noted
    assert second.outcome is Outcome.ACKNOWLEDGED
    assert platform.replies[1].text == "@alice Thanks! Noted: an Airbus A321. I'll learn from it."
    # And the correction is kept: who, what the bot said, the label, and the aircraft's crop
    ((key, value),) = state.records(CORRECTION)
    record = json.loads(value)
    assert key == "x:m2" and record["person"] == "x:77" and record["mention_id"] == "m1"
    assert record["verdict"] == "wrong" and record["label"] == "Airbus A321"
    assert record["said"][0]["label"] == "Airbus A320"
    crop = Image.open(io.BytesIO(base64.b64decode(record["crop_jpeg_base64"])))
    assert max(crop.size) <= 320 and crop.width > crop.height  # the airliner, not the photo


def test_a_confirmation_keeps_what_the_bot_said_as_the_label(
    bot: tuple[Handler, PlatformDouble, MemoryStateStore],
) -> None:
    handler, platform, state = bot
    first = handler.handle(mention("m1", "@planebot?", photos=("u/airliner",)))
    handler.handle(mention("m2", "@planebot correct!", in_reply_to_id=first.reply_id))
    assert platform.replies[1].text == "@alice Thanks for confirming! An Airbus A320 it is."
    assert json.loads(state.records(CORRECTION)[0][1])["label"] == "Airbus A320"


def test_a_reply_to_someone_else_or_without_feedback_is_an_ordinary_mention(
    bot: tuple[Handler, PlatformDouble, MemoryStateStore],
) -> None:
    handler, _, state = bot
    first = handler.handle(mention("m1", "@planebot?", photos=("u/airliner",)))
    # A reply to our answer that is not feedback, with a photo: answered as a photo
    again = handler.handle(
        mention(
            "m2", "@planebot and this one?", photos=("u/airliner",), in_reply_to_id=first.reply_id
        )
    )
    assert again.outcome is Outcome.REPLIED
    # A "wrong" in reply to a post that is not one of our answers: not kept
    handler.handle(
        mention(
            "m3", "@planebot wrong, it's an A321", photos=("u/airliner",), in_reply_to_id="someone"
        )
    )
    assert state.records(CORRECTION) == []


def test_stop_is_acknowledged_forgets_corrections_and_silences_the_bot_until_start(
    bot: tuple[Handler, PlatformDouble, MemoryStateStore],
) -> None:
    handler, platform, state = bot
    # Given a person who corrected an answer
    first = handler.handle(mention("m1", "@planebot?", photos=("u/airliner",)))
    handler.handle(mention("m2", "@planebot wrong: A321", in_reply_to_id=first.reply_id))
    assert len(state.records(CORRECTION)) == 1

    # When they say stop
    stopped = handler.handle(mention("m3", "@planebot stop"))

    # Then the bot says so once, forgets their corrections, and answers them no more
    assert stopped.outcome is Outcome.ACKNOWLEDGED
    assert platform.replies[-1].text == f"@alice {STOP_TEXT}"
    assert state.records(CORRECTION) == [] and state.get_record(OPTOUT, "x:42") is not None
    replies = len(platform.replies)
    silent = handler.handle(mention("m4", "@planebot?", photos=("u/airliner",)))
    assert silent.outcome is Outcome.OPTED_OUT and len(platform.replies) == replies
    # And "start" brings the bot back
    assert handler.handle(mention("m5", "@planebot start")).outcome is Outcome.ACKNOWLEDGED
    assert (
        handler.handle(mention("m6", "@planebot?", photos=("u/airliner",))).outcome
        is Outcome.REPLIED
    )


def test_corrections_are_exported_as_a_training_folder(
    bot: tuple[Handler, PlatformDouble, MemoryStateStore], tmp_path: Path
) -> None:
    from aircraftml.learning_export import export_corrections

    handler, _, state = bot
    first = handler.handle(mention("m1", "@planebot?", photos=("u/airliner",)))
    handler.handle(mention("m2", "@planebot wrong, A321", in_reply_to_id=first.reply_id))
    handler.handle(mention("m3", "@planebot yes", in_reply_to_id=first.reply_id, author_id="9"))
    handler.handle(mention("m4", "@planebot wrong", in_reply_to_id=first.reply_id, author_id="8"))

    counts = export_corrections(state, tmp_path / "out")

    assert counts == {"Airbus A321": 1, "Airbus A320": 1}  # "wrong" with no type is left out
    assert sorted(p.name for p in (tmp_path / "out" / "train").iterdir()) == [
        "Airbus A320",
        "Airbus A321",
    ]
    assert Image.open(tmp_path / "out" / "train" / "Airbus A321" / "x-m2.jpg").width > 0
    rows = (tmp_path / "out" / "corrections.csv").read_text().splitlines()
    assert rows[0] == "file,label,said,verdict,mention_id" and len(rows) == 3


def test_the_export_command_reads_the_bots_state_file(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from aircraftml.cli import main
    from aircraftml.state.sqlite import SqliteStateStore

    # Given a state file with one correction, as the bot keeps it
    state = SqliteStateStore(tmp_path / "state.sqlite3")
    platform = PlatformDouble(photos={"u/airliner": PHOTO})
    learning = Learning(state, LABELS, platform.download_photo)
    handler = Handler(
        platform,
        state,
        OneAirliner(),
        weighted_length=weighted_length,  # type: ignore[arg-type]
        learning=learning,
    )
    first = handler.handle(mention("m1", "@planebot?", photos=("u/airliner",)))
    handler.handle(mention("m2", "@planebot wrong, A321", in_reply_to_id=first.reply_id))
    state.close()
    # When it is exported from the command line
    result = CliRunner().invoke(
        main,
        [
            "corrections",
            "--state",
            f"sqlite://{tmp_path}/state.sqlite3",
            "export",
            str(tmp_path / "out"),
        ],
    )
    # Then the folder holds the crop
    assert result.exit_code == 0, result.output
    assert "wrote 1 corrections" in result.output
    assert (tmp_path / "out" / "train" / "Airbus A321" / "x-m2.jpg").is_file()
