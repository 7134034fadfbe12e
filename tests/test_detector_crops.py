"""``aircraftml crop-dataset``: every labelled photo cut to its aircraft as the bot cuts it."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from click.testing import CliRunner
from PIL import Image

from aircraftml.cli import main
from aircraftml.demo import draw_airliner
from aircraftml.vision.detector_crops import main_box
from aircraftml.vision.types import Box


def _airliner_in_a_wide_sky() -> Image.Image:
    """A 1600x1200 photo with a 600x400 drawing of an airliner in its middle."""
    photo = Image.new("RGB", (1600, 1200), (135, 180, 230))
    photo.paste(Image.open(io.BytesIO(draw_airliner(600, 400))), (500, 400))
    return photo


def _dataset(root: Path) -> None:
    for split in ("train", "val"):
        folder = root / split / "Airliner"
        folder.mkdir(parents=True)
        _airliner_in_a_wide_sky().save(folder / "drawn.jpg")
        Image.new("RGB", (300, 200), (120, 160, 210)).save(folder / "sky.png")
        (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with (root / "index.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["split", "label", "role", "path"])
        writer.writerow(["train", "Airliner", "civil", "train/Airliner/sky.png"])


def test_photos_are_cut_to_the_aircraft_kept_whole_without_one_and_skipped_when_broken(
    tmp_path: Path,
) -> None:
    # Given a labelled folder: a drawn airliner in a wide sky, an empty sky, a broken file
    data, out = tmp_path / "data", tmp_path / "crops"
    _dataset(data)

    # When it is cut to the aircraft
    result = CliRunner().invoke(main, ["crop-dataset", str(data), "--out", str(out), "--quiet"])

    # Then each split reports what happened to each photo
    assert result.exit_code == 0, result.output
    assert "train: 1 cut to the aircraft, 1 kept whole (no aircraft found), 1 unreadable" in (
        result.output
    )
    # And the airliner's crop is smaller than the photo but keeps its wings and some sky
    crop = Image.open(out / "train" / "Airliner" / "drawn.jpg")
    assert crop.width < 0.5 * 1600 and crop.height < 0.5 * 1200
    assert crop.width > 0.7 * 600  # the airliner spans 70% of the drawing's width
    # And the empty sky is kept whole, as JPEG, and the roles go along (paths now .jpg)
    assert Image.open(out / "train" / "Airliner" / "sky.jpg").size == (300, 200)
    rows = list(csv.DictReader((out / "index.csv").open()))
    assert rows[0]["path"] == "train/Airliner/sky.jpg" and rows[0]["role"] == "civil"
    # And a training crop has a wider margin than an evaluation crop of the same photo
    val_crop = Image.open(out / "val" / "Airliner" / "drawn.jpg")
    assert val_crop.width * val_crop.height < crop.width * crop.height


def test_a_second_run_keeps_the_crops_already_written(tmp_path: Path) -> None:
    # Given a folder already cut once
    data, out = tmp_path / "data", tmp_path / "crops"
    _dataset(data)
    CliRunner().invoke(main, ["crop-dataset", str(data), "--out", str(out), "--quiet"])
    written = out / "train" / "Airliner" / "drawn.jpg"
    before = written.stat().st_mtime_ns
    # When it is cut again
    result = CliRunner().invoke(main, ["crop-dataset", str(data), "--out", str(out), "--quiet"])
    # Then nothing is cut twice
    assert result.exit_code == 0
    assert written.stat().st_mtime_ns == before


def test_the_main_aircraft_of_a_photo_is_its_largest_box() -> None:
    small, large = Box(0, 0, 10, 10, 0.9), Box(5, 5, 100, 60, 0.6)
    assert main_box([small, large]) == large
    assert main_box([]) is None
