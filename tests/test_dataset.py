"""The labelled-photo folder that training and evaluation both read."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from aircraftml.vision.dataset import (
    DatasetError,
    LabelledImage,
    list_images,
    list_labels,
    list_split,
    read_roles,
)


def _photo(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (90, 120, 200)).save(path)


def test_images_are_listed_by_label_then_name_and_non_images_left_out(tmp_path: Path) -> None:
    # Given a val split with two labels, a hidden file, a text file and an empty label folder
    _photo(tmp_path / "val" / "Boeing 747" / "b.jpg")
    _photo(tmp_path / "val" / "Boeing 747" / "a.PNG")
    _photo(tmp_path / "val" / "Airbus A320" / "z.webp")
    _photo(tmp_path / "val" / "Airbus A320" / ".hidden.jpg")
    (tmp_path / "val" / "Airbus A320" / "notes.txt").write_text("not a photo")
    (tmp_path / "val" / "Cessna 172").mkdir()
    # When listing it
    images = list_images(tmp_path, "val")
    # Then each photo comes once with its folder's label, in label then name order
    assert [(p.name, label) for p, label in images] == [
        ("z.webp", "Airbus A320"),
        ("a.PNG", "Boeing 747"),
        ("b.jpg", "Boeing 747"),
    ]


def test_a_missing_split_is_a_one_line_error_naming_the_layout(tmp_path: Path) -> None:
    with pytest.raises(
        DatasetError, match=r"has no test/ folder \(expected test/<label>/\*\.jpg\)"
    ):
        list_images(tmp_path, "test")


def test_roles_come_from_index_csv_when_it_has_the_columns(tmp_path: Path) -> None:
    assert read_roles(tmp_path) == {}
    (tmp_path / "index.csv").write_text(
        "split,label,role,path\ntest,ATR 42,civil,a.jpg\ntrain,Junkers Ju 87,military,b.jpg\n"
    )
    assert read_roles(tmp_path) == {"ATR 42": "civil", "Junkers Ju 87": "military"}
    (tmp_path / "index.csv").write_text("label,kind\nATR 42,civil\n")
    assert read_roles(tmp_path) == {}


def test_a_split_is_numbered_by_the_train_labels(tmp_path: Path) -> None:
    # Given train with two labels and a val split holding photos of one of them
    _photo(tmp_path / "train" / "Boeing 747" / "a.jpg")
    _photo(tmp_path / "train" / "Airbus A320" / "b.jpg")
    _photo(tmp_path / "val" / "Boeing 747" / "c.jpg")
    labels = list_labels(tmp_path)
    # Then the labels are train's folders, sorted, and each val photo carries its index
    assert labels == ("Airbus A320", "Boeing 747")
    assert list_split(tmp_path, "val", labels) == [
        LabelledImage(tmp_path / "val" / "Boeing 747" / "c.jpg", 1)
    ]


def test_a_layout_training_cannot_use_is_a_one_line_error(tmp_path: Path) -> None:
    # One label folder is too few to learn from
    _photo(tmp_path / "train" / "Boeing 747" / "a.jpg")
    with pytest.raises(DatasetError, match="needs at least two label folders, found 1"):
        list_labels(tmp_path)
    # A split with a label train does not have, or with no photo at all
    _photo(tmp_path / "val" / "Fokker 100" / "b.jpg")
    with pytest.raises(DatasetError, match="label folders not in train/: Fokker 100"):
        list_split(tmp_path, "val", ("Airbus A320", "Boeing 747"))
    (tmp_path / "test" / "Boeing 747").mkdir(parents=True)
    with pytest.raises(DatasetError, match="holds no images Pillow can read"):
        list_split(tmp_path, "test", ("Airbus A320", "Boeing 747"))
