"""`aircraftml classify` with the shipped models: boxes in the photo's own pixels, JSON as
documented, annotated copies, and bad photos refused one line each without stopping the rest."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from PIL import Image

from aircraftml.cli import main
from aircraftml.demo import draw_airliner
from aircraftml.vision.annotate import annotate
from aircraftml.vision.recognizer import Recognizer


def _resave(data: bytes, size: tuple[int, int] | None = None, orientation: int = 1) -> bytes:
    image = Image.open(io.BytesIO(data))
    if size:
        image = image.resize(size)
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=92, exif=exif.tobytes())
    return out.getvalue()


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_json_output_names_the_aircraft_and_boxes_it_in_photo_pixels(tmp_path: Path) -> None:
    # Given a 4,000 x 2,500 photo of an airliner (decoded at reduced size internally)
    photo = tmp_path / "airliner.jpg"
    photo.write_bytes(_resave(draw_airliner(), size=(4000, 2500)))
    # When classified as JSON
    code, out, _ = run("classify", "--json", str(photo))
    # Then one aircraft, boxed in full-size pixels around the drawing's middle
    assert code == 0
    result = json.loads(out)
    assert (result["image"], result["width"], result["height"]) == (str(photo), 4000, 2500)
    [aircraft] = result["aircraft"]
    x0, y0, x1, y1 = aircraft["box"]
    assert 200 < x0 < 700 and 3300 < x1 < 3800 and 300 < y0 < 700 and 1900 < y1 < 2400
    assert aircraft["score"] > 0.9
    types = aircraft["types"]
    assert len(types) == 3
    assert [t["confidence"] for t in types] == sorted(
        (t["confidence"] for t in types), reverse=True
    )
    assert set(result["timings_ms"]) == {"decode", "detect", "classify", "registration", "total"}


def test_boxes_follow_exif_orientation(tmp_path: Path) -> None:
    # Given the airliner stored sideways with orientation 6 (shown rotated 90 degrees)
    stored = Image.open(io.BytesIO(draw_airliner())).transpose(Image.Transpose.ROTATE_90)
    out = io.BytesIO()
    stored.save(out, format="JPEG")
    photo = tmp_path / "rotated.jpg"
    photo.write_bytes(_resave(out.getvalue(), orientation=6))
    # When classified / Then the photo is 960 wide as the user sees it, the box wide too
    code, out_text, _ = run("classify", "--json", str(photo))
    result = json.loads(out_text)
    assert code == 0 and (result["width"], result["height"]) == (960, 600)
    [aircraft] = result["aircraft"]
    x0, y0, x1, y1 = aircraft["box"]
    assert x1 - x0 > y1 - y0


def test_bad_photos_get_one_line_each_and_the_good_ones_are_still_answered(
    tmp_path: Path,
) -> None:
    good = tmp_path / "good.jpg"
    good.write_bytes(draw_airliner())
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "notes.jpg"
    text.write_text("this is not a photo")
    annotated = tmp_path / "annotated"
    code, out, err = run(
        "classify",
        str(empty),
        str(good),
        str(text),
        str(tmp_path / "missing.jpg"),
        "--annotate",
        str(annotated),
    )
    assert code == 1
    assert "good.jpg (960x600): 1 aircraft" in out
    errors = err.strip().splitlines()
    assert errors == [
        f"{empty}: error: empty file (0 bytes)",
        f"{text}: error: not an image in a format we read (JPEG, PNG, WEBP, GIF)",
        f"{tmp_path / 'missing.jpg'}: error: no such file",
    ]
    assert (annotated / "good.annotated.jpg").is_file()
    assert not (annotated / "empty.annotated.jpg").exists()


def test_a_photo_without_aircraft_says_so(tmp_path: Path) -> None:
    sky = tmp_path / "sky.png"
    Image.new("RGB", (640, 480), (135, 180, 230)).save(sky)
    code, out, _ = run("classify", str(sky))
    assert code == 0 and out.strip() == f"{sky} (640x480): no aircraft found"


def test_annotation_is_legible_at_phone_size() -> None:
    # Given a small photo: it is enlarged so the label stays readable
    recognition = Recognizer.load().recognize_bytes(_resave(draw_airliner(), size=(480, 300)))
    picture = annotate(recognition)
    assert max(picture.size) >= 720
    # the box is drawn in the first palette colour around the aircraft
    pixels = np.asarray(picture)
    assert int(np.all(pixels == (230, 25, 75), axis=-1).sum()) > 1_000
