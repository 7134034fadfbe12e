"""``aircraftml evaluate --photos DIR``: full photos through the detector, as the bot sees
them, and what came of each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from aircraftml.cli import main
from aircraftml.demo import draw_airliner
from aircraftml.vision.naming import Named, outcome_of
from aircraftml.vision.taxonomy import Taxonomy

SHARED_PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "photos"
TAXONOMY = Taxonomy.from_types(
    ("Airbus A319", "Airbus A320", "Boeing 787"),
    {
        "Airbus A319": {"family": "Airbus A320 family", "manufacturer": "Airbus"},
        "Airbus A320": {"family": "Airbus A320 family", "manufacturer": "Airbus"},
        "Boeing 787": {"family": "Boeing 787", "manufacturer": "Boeing"},
    },
)


def _photos(folder: Path) -> None:
    folder.mkdir()
    (folder / "airliner.jpg").write_bytes(draw_airliner())
    Image.new("RGB", (640, 480), (130, 170, 220)).save(folder / "sky.jpg")
    (folder / "labels.csv").write_text(
        "file,label\nairliner.jpg,Airbus A320\nsky.jpg,Boeing 787\nairliner.jpg,\n"
    )


@pytest.mark.parametrize(
    ("named", "label", "outcome"),
    [
        (Named("type", "Airbus A320", 0.8, "Airbus A320"), "Airbus A320", "type right"),
        (Named("type", "Airbus A319", 0.8, "Airbus A319"), "Airbus A320", "claimed wrong"),
        (Named("family", "Airbus A320 family", 0.9, ""), "Airbus A319", "family right"),
        (Named("manufacturer", "Boeing", 0.9, "Boeing"), "Airbus A319", "claimed wrong"),
        (Named("unsure", "Boeing 787", 0.3, ""), "Boeing 787", "not claimed"),
        (Named("unknown", "Boeing 787", 0.9, ""), "Boeing 787", "not claimed"),
        (Named("type", "Boeing 787", 0.9, ""), "Fokker 100", "claimed wrong"),
        (None, "Boeing 787", "missed"),
    ],
)
def test_each_answer_about_a_labelled_aircraft_has_one_outcome(
    named: Named | None, label: str, outcome: str
) -> None:
    assert outcome_of(named, label, TAXONOMY) == outcome


def test_photos_are_judged_through_the_detector_with_rates_json_and_confusion_pictures(
    tmp_path: Path,
) -> None:
    # Given a drawn airliner labelled A320, an empty sky labelled 787, and the airliner again
    # marked as a type the bot must not claim
    folder = tmp_path / "photos"
    _photos(folder)
    png = tmp_path / "confusion.png"

    # When the bot's path is evaluated on them
    result = CliRunner().invoke(
        main, ["evaluate", "--photos", str(folder), "--json", "--confusion", str(png)]
    )

    # Then every photo has its outcome: the sky is missed (no aircraft found)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    outcomes = {(r["file"], r["label"]): r["outcome"] for r in report["results"]}
    assert outcomes[("sky.jpg", "Boeing 787")] == "missed"
    assert outcomes[("airliner.jpg", "Airbus A320")] in (
        "type right",
        "family right",
        "maker right",
        "not claimed",
        "claimed wrong",
    )
    # And the rates count 2 known photos (50 points each) and 1 the bot must not claim
    assert report["known_photos"] == 2 and report["unknown_photos"] == 1
    assert report["points_per_photo"] == 50.0
    assert report["outcomes"]["missed"] == 1
    # And both confusion pictures are written
    assert Image.open(png).size[0] > 50
    assert Image.open(tmp_path / "confusion.normalised.png").size[0] > 50


def test_a_labels_file_naming_a_missing_photo_is_refused_in_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    _photos(folder)
    (folder / "labels.csv").write_text("file,label\nnot-there.jpg,Boeing 787\n")
    result = CliRunner().invoke(main, ["evaluate", "--photos", str(folder)])
    assert result.exit_code == 1
    assert "lists files that are not there: not-there.jpg" in result.output


def test_evaluate_needs_a_split_folder_or_photos_not_both(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["evaluate"])
    assert result.exit_code == 2 and "either DATA_DIR" in result.output


@pytest.mark.skipif(not SHARED_PHOTOS.is_dir(), reason="../shared/data/photos is not here")
def test_the_shared_photos_of_unknown_types_are_not_claimed() -> None:
    # Given the real photos, three of them of types outside the vocabulary (Vulcan,
    # ERJ-145, Fokker 100)
    result = CliRunner().invoke(main, ["evaluate", "--photos", str(SHARED_PHOTOS), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    # Then none of the unknown types is claimed
    claimed = [
        r["file"] for r in report["results"] if r["label"] == "" and r["outcome"] == "claimed wrong"
    ]
    assert claimed == []
