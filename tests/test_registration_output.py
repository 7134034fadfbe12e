"""A registration read on an aircraft reaches every output: the reply and alt text, the
annotated image's label, ``classify`` (text and --json); a registry's exact type replaces the
classifier's guess and the reply says where the type came from."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image, ImageDraw, ImageFont

from aircraftml.cli import main
from aircraftml.demo import draw_airliner
from aircraftml.platforms.x_text import weighted_length
from aircraftml.reply import PhotoOutcome, alt_text, compose_reply, describe_aircraft
from aircraftml.vision.annotate import annotate, label_text
from aircraftml.vision.image import Photo
from aircraftml.vision.recognizer import FoundAircraft, Recognition
from aircraftml.vision.registration import Registration
from aircraftml.vision.registration_samples import FONT_DIRS
from aircraftml.vision.registry import sample_registry_dir
from aircraftml.vision.types import TypeGuess

D_AIZA = Registration("D-AIZA", "Germany", 0.97, (300, 40, 360, 52))


def _found(registration: Registration | None, registered_type: str | None = None) -> FoundAircraft:
    return FoundAircraft(
        box=(100, 10, 500, 90),
        score=0.95,
        types=(TypeGuess("Airbus A320", 0.72), TypeGuess("Airbus A319", 0.2)),
        registration=registration,
        registered_type=registered_type,
    )


def _recognition(found: FoundAircraft) -> Recognition:
    photo = Photo(image=Image.new("RGB", (600, 300)), width=600, height=300)
    return Recognition(photo=photo, aircraft=(found,), timings_ms={})


def test_the_reply_names_the_registration_and_its_country_after_the_type() -> None:
    outcome = PhotoOutcome(_recognition(_found(D_AIZA)))
    text = compose_reply("alice", [outcome], weighted_length)
    assert text == (
        "@alice I see one aircraft: probably an Airbus A320 (72%), registration D-AIZA (Germany)."
    )


def test_a_registry_type_replaces_the_guess_and_says_where_it_came_from() -> None:
    found = _found(D_AIZA, registered_type="Airbus A320-214")
    assert describe_aircraft(found) == (
        "an Airbus A320-214, registration D-AIZA (Germany), type from the registry"
    )
    assert label_text(1, found) == "1 Airbus A320-214 D-AIZA"
    assert "registration D-AIZA (Germany), type from the registry" in alt_text(_recognition(found))
    assert found.to_dict()["type_source"] == "registry"


def test_without_a_registration_nothing_changes() -> None:
    found = _found(None)
    assert describe_aircraft(found) == "probably an Airbus A320 (72%)"
    assert label_text(1, found) == "1 Airbus A320 72%"
    assert found.to_dict()["registration"] is None
    assert found.to_dict()["type_source"] == "classifier"


def test_the_annotated_image_boxes_the_registration_in_the_aircraft_colour() -> None:
    # Given a white photo with an aircraft whose registration was read at (600, 300)-(720, 330)
    photo = Photo(image=Image.new("RGB", (1200, 600), "white"), width=1200, height=600)
    found = FoundAircraft(
        box=(100, 10, 1100, 590),
        score=0.9,
        types=(TypeGuess("Airbus A320", 0.9),),
        registration=Registration("D-AIZA", "Germany", 0.97, (600, 300, 720, 330)),
    )
    image = annotate(Recognition(photo=photo, aircraft=(found,), timings_ms={}))
    # Then a rectangle is drawn just outside the registration, not inside it
    scale = image.width / 1200
    left_edge = image.getpixel((round(593 * scale), round(315 * scale)))
    inside = image.getpixel((round(660 * scale), round(315 * scale)))
    assert left_edge != (255, 255, 255)
    assert inside == (255, 255, 255)


def _airliner_with(registration: str) -> bytes:
    """The demo's drawn airliner with a registration painted on its rear fuselage."""
    image = Image.open(io.BytesIO(draw_airliner(1920, 1200))).convert("RGB")
    font_path = next(
        (d / "DejaVuSans-Bold.ttf" for d in FONT_DIRS if (d / "DejaVuSans-Bold.ttf").exists()),
        None,
    )
    font = ImageFont.truetype(str(font_path), 40) if font_path else ImageFont.load_default(size=40)
    ImageDraw.Draw(image).text((1180, 606), registration, fill=(20, 25, 40), font=font)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=92)
    return out.getvalue()


def test_classify_reads_the_registration_and_the_registry_gives_the_exact_type(
    tmp_path: Path,
) -> None:
    pytest.importorskip("rapidocr_onnxruntime", reason="needs the registration extra")
    # Given a drawn airliner painted F-GUBC, and the shipped sample registry
    photo = tmp_path / "airliner.jpg"
    photo.write_bytes(_airliner_with("F-GUBC"))
    registry = sample_registry_dir() / "sample.csv"
    # When classified as JSON with the registry, and as text
    result = CliRunner().invoke(
        main, ["classify", "--json", "--registry", str(registry), str(photo)]
    )
    text = CliRunner().invoke(main, ["classify", "--registry", str(registry), str(photo)])
    # Then the registration, its country and box are given, and the type is the registry's
    assert result.exit_code == 0, result.output
    [aircraft] = json.loads(result.stdout)["aircraft"]
    registration = aircraft["registration"]
    assert (registration["text"], registration["country"]) == ("F-GUBC", "France")
    assert registration["confidence"] >= 0.9
    assert registration["registered_type"] == "Embraer ERJ-145MP"
    x0, y0, x1, y1 = registration["box"]
    assert 1160 < x0 < 1200 and 1330 < x1 < 1400 and 590 < y0 < 630 and 630 < y1 < 670
    assert aircraft["type_source"] == "registry"
    assert "an Embraer ERJ-145MP, registration F-GUBC (France), type from the registry" in (
        text.stdout
    )


def test_classify_no_registration_skips_the_reading(tmp_path: Path) -> None:
    photo = tmp_path / "airliner.jpg"
    photo.write_bytes(_airliner_with("F-GUBC"))
    result = CliRunner().invoke(main, ["classify", "--json", "--no-registration", str(photo)])
    assert result.exit_code == 0, result.output
    [aircraft] = json.loads(result.stdout)["aircraft"]
    assert aircraft["registration"] is None


def test_classify_refuses_a_registry_it_cannot_read(tmp_path: Path) -> None:
    bad = tmp_path / "fleet.csv"
    bad.write_text("tail,model\n", encoding="utf-8")
    photo = tmp_path / "airliner.jpg"
    photo.write_bytes(draw_airliner())
    result = CliRunner().invoke(
        main, ["classify", "--no-registration", "--registry", str(bad), str(photo)]
    )
    assert result.exit_code == 1
    assert "fleet.csv has no column(s) registration, type" in result.output
