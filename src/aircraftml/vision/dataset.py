"""The folder of labelled photos that training and evaluation read.

``DATA_DIR/<split>/<label>/<image>``: one folder per split (``train``, ``val``, ``test``) and,
in it, one folder per label holding any image format Pillow opens. An optional
``DATA_DIR/index.csv`` with ``label`` and ``role`` columns groups the labels (civil,
military...), as in ``../shared/data/aircraft-types-v2``.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from aircraftml.errors import AircraftMLError


class DatasetError(AircraftMLError):
    """The data folder is not laid out as training or evaluation needs."""


def image_suffixes() -> frozenset[str]:
    """File suffixes Pillow can open here (lower case, with the dot)."""
    return frozenset(ext.lower() for ext in Image.registered_extensions())


def label_folders(data_dir: Path, split: str) -> list[Path]:
    """The label folders of ``data_dir/split``, sorted by name."""
    split_dir = data_dir / split
    if not split_dir.is_dir():
        raise DatasetError(f"{data_dir} has no {split}/ folder (expected {split}/<label>/*.jpg)")
    return sorted(p for p in split_dir.iterdir() if p.is_dir())


def list_images(data_dir: Path, split: str) -> list[tuple[Path, str]]:
    """(path, label) for every image file in ``data_dir/split/<label>/``, sorted by label and
    name; hidden files and files Pillow has no format for are left out."""
    suffixes = image_suffixes()
    return [
        (path, label_dir.name)
        for label_dir in label_folders(data_dir, split)
        for path in sorted(label_dir.iterdir())
        if path.is_file() and path.suffix.lower() in suffixes and not path.name.startswith(".")
    ]


def read_roles(data_dir: Path) -> dict[str, str]:
    """label -> role from ``data_dir/index.csv`` (empty if absent or without the columns)."""
    path = data_dir / "index.csv"
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {"label", "role"} <= set(reader.fieldnames):
            return {}
        return {row["label"]: row["role"] for row in reader if row.get("label")}


@dataclass(frozen=True, slots=True)
class LabelledImage:
    path: Path
    label_index: int


def list_labels(data_dir: Path) -> tuple[str, ...]:
    """The class names: the folders of ``data_dir/train``, sorted."""
    labels = tuple(p.name for p in label_folders(data_dir, "train"))
    if len(labels) < 2:
        raise DatasetError(
            f"{data_dir / 'train'} needs at least two label folders, found {len(labels)}"
        )
    return labels


def list_split(data_dir: Path, split: str, labels: Sequence[str]) -> list[LabelledImage]:
    """Every image of ``data_dir/split`` (see ``dataset.list_images``) for the known labels.
    A label folder that ``labels`` does not know raises ``DatasetError``."""
    index = {label: i for i, label in enumerate(labels)}
    unknown = [p.name for p in label_folders(data_dir, split) if p.name not in index]
    if unknown:
        raise DatasetError(f"{data_dir / split}: label folders not in train/: {', '.join(unknown)}")
    items = [LabelledImage(path, index[label]) for path, label in list_images(data_dir, split)]
    if not items:
        raise DatasetError(f"{data_dir / split} holds no images Pillow can read")
    return items
